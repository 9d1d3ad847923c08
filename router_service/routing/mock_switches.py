"""LiteLLM mock-testing switches (testing only, see docs/testing-switches.md).

Read from the request dict (top-level keys) or the deployment's litellm_params; request wins.
`split()` strips them (and the router-only keys) from the request before it reaches a provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import time
import uuid
from collections.abc import AsyncIterator

from gemgate.errors import ErrorKind, GatewayError, invalid

if TYPE_CHECKING:
    from gemgate.config import Deployment

SWITCHES = (
    "mock_response",
    "mock_testing_fallbacks",
    "mock_testing_rate_limit_error",
    "mock_testing_context_fallbacks",
    "mock_testing_content_policy_fallbacks",
)
ROUTER_KEYS = ("num_retries", "fallbacks", "timeout")


def split(request: dict) -> tuple[dict, dict, dict]:
    """-> (clean provider request, switches from the request, router keys from the request)."""
    clean = {k: v for k, v in request.items() if k not in SWITCHES and k not in ROUTER_KEYS}
    switches = {k: request[k] for k in SWITCHES if request.get(k) is not None}
    router_keys = {k: request[k] for k in ROUTER_KEYS if request.get(k) is not None}
    return clean, switches, router_keys


def check_router_keys(router_keys: dict) -> dict:
    """The router-only request keys are client input: a bad value is a 400 naming it, never an
    internal error (or, for `timeout <= 0`, an instant upstream timeout counted against deployments).
    Returns them normalized: num_retries int >= 0, timeout float > 0, fallbacks a list of group names."""
    out = dict(router_keys)
    n = router_keys.get("num_retries")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise invalid("num_retries must be a non-negative integer", "num_retries")
    t = router_keys.get("timeout")
    if t is not None:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0 or t == float("inf"):
            raise invalid("timeout must be a positive number of seconds", "timeout")
        out["timeout"] = float(t)
    fbs = router_keys.get("fallbacks")
    if fbs is not None:
        if not isinstance(fbs, list):
            raise invalid("fallbacks must be a list of model group names", "fallbacks")
        names = []
        for i, f in enumerate(fbs):
            name = f.get("model") if isinstance(f, dict) else f
            if not isinstance(name, str) or not name:
                raise invalid("fallbacks entries must be model group names (or {\"model\": name})", f"fallbacks[{i}]")
            names.append(name)
        out["fallbacks"] = names
    return out


def effective(switches: dict, dep: Deployment) -> dict:
    out = {k: getattr(dep.litellm_params, k) for k in SWITCHES if getattr(dep.litellm_params, k) is not None}
    out.update(switches)
    return out


def primary_error(sw: dict, group: str) -> GatewayError | None:
    """Errors forced on the primary group (never on a fallback group)."""
    if sw.get("mock_testing_context_fallbacks"):
        return GatewayError(ErrorKind.CONTEXT_LENGTH_EXCEEDED, f"mock_testing_context_fallbacks: {group}")
    if sw.get("mock_testing_content_policy_fallbacks"):
        return GatewayError(ErrorKind.CONTENT_POLICY, f"mock_testing_content_policy_fallbacks: {group}")
    if sw.get("mock_testing_fallbacks"):
        return GatewayError(ErrorKind.UPSTREAM_ERROR, f"mock_testing_fallbacks: {group} failed")
    return None


def rate_limit_error(group: str) -> GatewayError:
    return GatewayError(ErrorKind.RATE_LIMIT, f"mock_testing_rate_limit_error: {group} rate limited")


def _usage(request: dict, text: str) -> dict:
    prompt = sum(len(str(m.get("content", ""))) for m in request.get("messages", [])) // 4 + 1
    completion = max(1, len(text) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion(request: dict, text: str) -> dict:
    return {
        "id": f"chatcmpl-mock-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", ""),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": _usage(request, text),
    }


async def chunks(request: dict, text: str) -> AsyncIterator[dict]:
    base = {"id": f"chatcmpl-mock-{uuid.uuid4().hex[:12]}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": request.get("model", "")}
    yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield {**base, "choices": [], "usage": _usage(request, text)}
