"""Tool-call ids carrying Gemini 3 thought signatures: `call_<hex>__thought__<base64url sig>`.
The signature is encoded into the id we return and decoded back onto the functionCall part when the
client sends the history back (OpenAI clients round-trip ids verbatim)."""

from __future__ import annotations

import base64
import uuid

SEP = "__thought__"


def make_call_id(upstream_id: str | None, signature: str | None) -> str:
    base = upstream_id or "call_" + uuid.uuid4().hex[:24]
    if not signature:
        return base
    enc = base64.urlsafe_b64encode(signature.encode()).decode().rstrip("=")
    return f"{base}{SEP}{enc}"


def split_call_id(call_id: str) -> tuple[str, str | None]:
    if SEP not in call_id:
        return call_id, None
    base, enc = call_id.split(SEP, 1)
    try:
        sig = base64.urlsafe_b64decode(enc + "=" * (-len(enc) % 4)).decode()
    except ValueError:
        return call_id, None
    return base, sig
