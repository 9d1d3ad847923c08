"""Signed reasoning (Claude thinking blocks) carried in a reasoning item's `encrypted_content`.

The value is opaque to clients: they send the reasoning item back unchanged (as OpenAI documents for
`encrypted_content`) and the gateway restores the signed blocks for the provider. It is not secret:
the same thinking text is what the provider returned.
"""

from __future__ import annotations

import base64
import binascii
import json

from gemgate.errors import invalid

_TAG = "gemgate.v1:"


def encode_blocks(blocks: list[dict]) -> str:
    raw = json.dumps(blocks, separators=(",", ":"), ensure_ascii=False).encode()
    return _TAG + base64.urlsafe_b64encode(raw).decode()


def decode_blocks(value: str, param: str) -> list[dict]:
    if not value.startswith(_TAG):
        raise invalid("encrypted_content was not produced by this gateway; send reasoning items back unchanged", param)
    try:
        blocks = json.loads(base64.urlsafe_b64decode(value[len(_TAG):].encode()))
    except (ValueError, binascii.Error):
        raise invalid("encrypted_content is corrupted; send reasoning items back unchanged", param) from None
    if not isinstance(blocks, list) or not all(
        isinstance(b, dict) and b.get("type") in ("thinking", "redacted_thinking") for b in blocks
    ):
        raise invalid("encrypted_content is corrupted; send reasoning items back unchanged", param)
    return [{k: v for k, v in b.items() if k in ("type", "thinking", "signature", "data") and isinstance(v, str)}
            for b in blocks]
