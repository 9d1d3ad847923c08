"""API key hashing and comparison. Only hashes are stored or logged."""

from __future__ import annotations

import hashlib
import hmac


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
