"""The caller's credentials, forwarded to the internal services as gRPC metadata (never logged)."""

from __future__ import annotations

import grpc
from fastapi import Request

from gemgate.forward_headers import to_metadata


def caller_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        return (token if scheme.lower() == "bearer" else auth).strip() or None
    key = request.headers.get("x-litellm-api-key") or request.headers.get("api-key")
    return key.strip() if key else None


def route_headers(metadata) -> dict[str, str]:
    """The response headers a reply carries from the router's metadata: `x-gemgate-*` route facts
    and the client's `x-request-id` echoed back (and LiteLLM's `x-litellm-cache-key` on cache hits)."""
    return {k: v for k, v in (metadata or ()) if k.startswith("x-gemgate-") or k in ("x-request-id", "x-litellm-cache-key")}


async def batch_route_headers(call, first) -> dict[str, str]:
    """The response headers of a batched stream (StreamChatCompletionChunks and the other *Batched streams):
    the route facts its first message carries, or its trailing metadata when it ended without one."""
    return route_headers(first.route.items() if first is not grpc.aio.EOF else await call.trailing_metadata())


def grpc_metadata(request: Request) -> tuple[tuple[str, str], ...]:
    md: list[tuple[str, str]] = []
    key = caller_key(request)
    if key:
        md.append(("authorization", f"Bearer {key}"))
    rid = request.headers.get("x-request-id")
    if rid:
        md.append(("x-request-id", rid[:128]))
    settings = getattr(request.app.state, "settings", None)
    if settings is not None and getattr(settings, "forward_headers", False):
        md.extend(to_metadata(request.headers))
    return tuple(md)
