"""API key generation, hashing and comparison. Only hashes are stored or logged."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "sk-"


def new_key() -> str:
    """`sk-` + 48 random bytes (384 bits), URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(48)


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def short(key_hash: str) -> str:
    """The form used in logs and error messages."""
    return f"key {key_hash[:12]}"


def display_name(api_key: str) -> str:
    """LiteLLM's key_name: 'sk-...' + last 4 characters."""
    return f"sk-...{api_key[-4:]}"


def is_hash(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
