"""Per-deployment request defaults (LiteLLM litellm_params temperature, top_p, max_tokens,
reasoning_effort, thinking, ...): a value the request does not set comes from the deployment that
serves it. Pure: returns a new dict, never changes the caller's."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gemgate.config import Deployment


_OUTPUT_LIMITS = ("max_tokens", "max_completion_tokens")


def apply(request: dict, dep: Deployment) -> dict:
    defaults = dep.litellm_params.request_defaults()
    if not defaults:
        return request
    out = dict(request)
    for key, value in defaults.items():
        if key in _OUTPUT_LIMITS and any(out.get(k) is not None for k in _OUTPUT_LIMITS):
            continue  # the request already limits its output
        if key in ("reasoning_effort", "thinking") and (out.get("reasoning_effort") is not None
                                                          or out.get("thinking") is not None):
            continue  # the request already chose its reasoning
        if out.get(key) is None:
            out[key] = value
    return out


def request_tags(request: dict) -> list[str]:
    tags = request.get("tags")
    if tags is None and isinstance(request.get("metadata"), dict):
        tags = request["metadata"].get("tags")
    if isinstance(tags, str):
        return [tags]
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def filter_by_tags(deps: list[Deployment], tags: list[str], match_any: bool) -> list[Deployment]:
    """LiteLLM tag routing: deployments carrying the request's tags (any or all of them); a request
    without tags, or with none matching, goes to deployments tagged `default` if there are any."""
    if tags:
        want = set(tags)
        def matches(d: Deployment) -> bool:
            have = set(d.litellm_params.tags)
            return bool(want & have) if match_any else want <= have

        hit = [d for d in deps if matches(d)]
        if hit:
            return hit
    default = [d for d in deps if "default" in d.litellm_params.tags]
    if default:
        return default
    return [] if tags else deps
