"""Reading JSON request bodies with OpenAI-style 400s (never a 422, a 500 or a stack trace).

The body itself was already read (and size-limited, and key-checked when large) by
`rest_facade.guard.InputGuard`. `json_body` parses it with `gemgate.safejson` (bounded depth and
value count, valid Unicode, key order kept). Work on large bodies runs in a worker thread
(`off_loop`) so one big request does not hold the event loop for the others.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from gemgate import safejson
from gemgate.errors import invalid
from gemgate.offload import cpu as off_loop

__all__ = ["json_body", "off_loop", "parse_object"]


def parse_object(raw: bytes, *, empty_ok: bool = False) -> dict[str, Any]:
    if empty_ok and not raw.strip():
        return {}
    data = safejson.parse(raw)
    if not isinstance(data, dict):
        raise invalid("request body must be a JSON object")
    return data


async def json_body(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    raw = await request.body()
    return await off_loop(len(raw), parse_object, raw, empty_ok=empty_ok)
