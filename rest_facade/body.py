"""Reading JSON request bodies with OpenAI-style 400s (never a 422 or a stack trace)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from gemgate.errors import invalid

MAX_BODY_BYTES = 64 * 1024 * 1024


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise invalid(f"request body exceeds {MAX_BODY_BYTES // (1024 * 1024)} MB")
    if not raw.strip():
        raise invalid("request body is empty; send a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid("request body must be a JSON object")
    return data
