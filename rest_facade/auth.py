"""The caller's credentials, forwarded to the internal services as gRPC metadata (never logged)."""

from __future__ import annotations

from fastapi import Request


def caller_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        return (token if scheme.lower() == "bearer" else auth).strip() or None
    key = request.headers.get("x-litellm-api-key") or request.headers.get("api-key")
    return key.strip() if key else None


def grpc_metadata(request: Request) -> tuple[tuple[str, str], ...]:
    md: list[tuple[str, str]] = []
    key = caller_key(request)
    if key:
        md.append(("authorization", f"Bearer {key}"))
    rid = request.headers.get("x-request-id")
    if rid:
        md.append(("x-request-id", rid[:128]))
    return tuple(md)
