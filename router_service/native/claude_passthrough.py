"""Anthropic Messages body -> Claude on Vertex, passed through (pure, no IO).

The body keeps every field the client sent (cache_control, signed thinking blocks, citations,
tools of every type, service_tier, ...); only what Vertex requires differs: no `model` (it is in the
URL), `anthropic_version: vertex-2023-10-16`, and `stream` set by the operation. A request without
max_tokens gets the deployment's `max_tokens`, else the model's default.
"""

from __future__ import annotations

from typing import Any

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.anthropic.errors import error_from_claude
from router_service.providers.anthropic.request import ANTHROPIC_VERSION, default_max_tokens
from router_service.providers.anthropic.response import usage_from_claude


def claude_body(body: dict, *, stream: bool, deployment: dict, upstream_model: str) -> dict:
    out = {k: v for k, v in body.items() if k not in ("model", "stream")}
    out["anthropic_version"] = ANTHROPIC_VERSION
    if out.get("max_tokens") is None:
        out["max_tokens"] = deployment.get("max_tokens") or default_max_tokens(upstream_model)
    if stream:
        out["stream"] = True
    return out


def beta_headers(betas: tuple[str, ...] | list[str]) -> dict[str, str]:
    """The client's anthropic-beta values, forwarded as the one header Vertex reads them from."""
    values = [b.strip() for v in betas for b in v.split(",") if b.strip()]
    return {"anthropic-beta": ",".join(values)} if values else {}


def count_body(body: dict, *, upstream_model: str) -> dict:
    """Body of Vertex's Claude `count-tokens:rawPredict`: the request's prompt fields and the model."""
    keep = ("messages", "system", "tools", "tool_choice", "thinking")
    out: dict[str, Any] = {"model": upstream_model}
    out.update({k: body[k] for k in keep if body.get(k) is not None})
    return out


def with_group(message: dict, group: str) -> dict:
    """The answer names the model group the client asked for, as every gemgate answer does."""
    return {**message, "model": group}


class ClaudeEventTracker:
    """Watches passed-through Claude stream events: usage (message_start + message_delta), the
    end (message_stop) and upstream `error` events (raised as GatewayError)."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.usage: dict[str, Any] = {}
        self.stopped = False

    def see(self, event: dict) -> dict:
        etype = event.get("type")
        if etype == "error":
            raise error_from_claude(500, event)
        if etype == "message_start":
            msg = event.get("message") or {}
            self.usage.update({k: v for k, v in (msg.get("usage") or {}).items() if isinstance(v, int)})
            return {**event, "message": with_group(msg, self.group)}
        if etype == "message_delta":
            self.usage.update({k: v for k, v in (event.get("usage") or {}).items() if isinstance(v, int)})
        elif etype == "message_stop":
            self.stopped = True
        return event

    def openai_usage(self) -> dict:
        return usage_from_claude(self.usage)

    def finish(self) -> None:
        if not self.stopped:
            raise GatewayError(ErrorKind.BAD_GATEWAY, "Claude: upstream stream ended without message_stop (truncated)")
