"""Ids of responses and items (random, unguessable: a response id is also a capability within a key)."""

from __future__ import annotations

import secrets

PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def item_id(item_type: str) -> str:
    return new_id(PREFIXES.get(item_type, "item"))
