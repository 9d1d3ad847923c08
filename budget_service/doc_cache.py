"""The admission path's cache of key documents (with their team and user documents).

Every Reserve needs the key's document (and its team's and user's) before the reservation script
runs; reading them from Redis each time costs a round trip per request. Cached entries are never
trusted blindly: each document carries a version counter in Redis (`ver:{kind}:{id}`, bumped by
every write through RedisStore.put_doc / delete_doc), and the reservation script itself checks the
versions the cache read and refuses with "stale" when any changed, in the same atomic step as the
budget check. The ledger then drops the entry and admits again with fresh documents. So a blocked,
deleted or re-budgeted key takes effect on the very next request, as without the cache.

Bounded (oldest entries go first) and short-lived; unknown keys are never cached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

MAX_ENTRIES = 10_000
TTL_SECONDS = 10.0


@dataclass
class CachedDocs:
    doc: dict
    team: dict | None
    user: dict | None
    versions: list[tuple[str, str]] = field(default_factory=list)  # (Redis version key, value read)
    expires: float = 0.0


class DocCache:
    def __init__(self, *, max_entries: int = MAX_ENTRIES, ttl: float = TTL_SECONDS, clock=time.monotonic) -> None:
        self.max_entries, self.ttl, self._clock = max_entries, ttl, clock
        self._entries: dict[str, CachedDocs] = {}

    def get(self, key_hash: str) -> CachedDocs | None:
        hit = self._entries.get(key_hash)
        if hit is None:
            return None
        if hit.expires <= self._clock():
            self._entries.pop(key_hash, None)
            return None
        return hit

    def put(self, key_hash: str, docs: CachedDocs) -> None:
        if key_hash not in self._entries and len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))  # the oldest entry
        docs.expires = self._clock() + self.ttl
        self._entries[key_hash] = docs

    def drop(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
