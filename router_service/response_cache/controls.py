"""Per-request cache controls and the cache key (pure).

LiteLLM's `cache` object in the request body (OpenAI SDK: `extra_body={"cache": {...}}`):
`no-cache` (do not answer from the cache; the fresh answer is still stored), `no-store` (do not store
this answer), `ttl` (seconds this answer is kept), `s-maxage` / `s-max-age` (only accept a cached
answer at most this old), `namespace` (keep apart from other namespaces), `use-cache` (opt in when
`cache_params.mode` is `default_off`). A malformed control is a 400 naming it.

The key is exact: SHA-256 over the call type, the caller's scope and the whole request as sent
(everything except `cache` and `metadata`), so any difference in messages or parameters (a
temperature, a seed, a tool schema) is another entry. The scope keeps tenants apart (one per API key).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

from gemgate.errors import invalid

NOT_IN_KEY = ("cache", "metadata")
MAX_NAMESPACE = 128


@dataclass(frozen=True)
class Controls:
    no_cache: bool = False
    no_store: bool = False
    use_cache: bool | None = None
    ttl: float | None = None
    max_age: float | None = None
    namespace: str | None = None


def _flag(raw: dict, name: str) -> bool | None:
    v = raw.get(name)
    if v is None:
        return None
    if not isinstance(v, bool):
        raise invalid(f"cache.{name} must be a boolean", f"cache.{name}")
    return v


def _seconds(raw: dict, name: str) -> float | None:
    v = raw.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 or v > 10 * 365 * 86400:
        raise invalid(f"cache.{name} must be a number of seconds (greater than 0, at most 10 years)", f"cache.{name}")
    return float(v)


def parse(request: dict) -> Controls:
    raw = request.get("cache")
    if raw is None:
        return Controls()
    if not isinstance(raw, dict):
        raise invalid("cache must be an object such as {\"no-cache\": true, \"ttl\": 60}", "cache")
    known = {"no-cache", "no-store", "use-cache", "ttl", "s-maxage", "s-max-age", "namespace"}
    for name in raw:
        if name not in known:
            raise invalid(f"cache.{name} is not a cache control (use one of {', '.join(sorted(known))})", f"cache.{name}")
    ns = raw.get("namespace")
    if ns is not None and (not isinstance(ns, str) or not ns or len(ns) > MAX_NAMESPACE or not ns.isprintable()):
        raise invalid(f"cache.namespace must be a printable string of 1 to {MAX_NAMESPACE} characters", "cache.namespace")
    max_age = _seconds(raw, "s-maxage")
    if max_age is None:
        max_age = _seconds(raw, "s-max-age")
    return Controls(no_cache=bool(_flag(raw, "no-cache")), no_store=bool(_flag(raw, "no-store")),
                    use_cache=_flag(raw, "use-cache"), ttl=_seconds(raw, "ttl"), max_age=max_age, namespace=ns)


def scope_of(api_key: str | None) -> str:
    """The tenant a cached answer belongs to: one per API key (hashed; the key itself is never stored).
    Without authentication (no master_key) every caller shares one scope."""
    if not api_key:
        return "open"
    return hashlib.sha256(b"gemgate-cache-scope\0" + api_key.encode()).hexdigest()[:32]


def cache_key(call_type: str, scope: str, request: dict) -> str:
    """Hex SHA-256 of the request's content (what LiteLLM returns as x-litellm-cache-key)."""
    content = {k: v for k, v in request.items() if k not in NOT_IN_KEY}
    raw = json.dumps([call_type, scope, content], separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()
