"""Stored responses, per key. One interface; backends are sibling modules (memory here, redis_store).

A record is `{"response": <Responses object>, "input_items": [<every input item of its context>]}`
stored under (owner, response id), where owner is derived from the caller's API key: a key can only
ever read, continue or delete its own responses (another key's id is simply "not found").
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

DEFAULT_TTL = 30 * 24 * 3600.0  # seconds; OpenAI keeps stored responses 30 days


def owner_of(api_key: str | None) -> str:
    """The store namespace of a caller: a hash of its key (keys themselves are never stored)."""
    if not api_key:
        return "anonymous"
    return hashlib.sha256(api_key.encode()).hexdigest()


class ResponseStore(Protocol):
    async def put(self, owner: str, response_id: str, record: dict) -> None: ...
    async def get(self, owner: str, response_id: str) -> dict | None: ...
    async def delete(self, owner: str, response_id: str) -> bool: ...
    async def close(self) -> None: ...


class MemoryResponseStore:
    """Per-process store (used when no Redis is configured): bounded, entries expire after ttl."""

    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._data: OrderedDict[tuple[str, str], tuple[float, dict]] = OrderedDict()

    async def put(self, owner: str, response_id: str, record: dict) -> None:
        self._data[(owner, response_id)] = (self.clock() + self.ttl, record)
        self._data.move_to_end((owner, response_id))
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    async def get(self, owner: str, response_id: str) -> dict | None:
        entry = self._data.get((owner, response_id))
        if entry is None:
            return None
        if entry[0] <= self.clock():
            self._data.pop((owner, response_id), None)
            return None
        return entry[1]

    async def delete(self, owner: str, response_id: str) -> bool:
        return await self.get(owner, response_id) is not None and self._data.pop((owner, response_id), None) is not None

    async def close(self) -> None:
        return None
