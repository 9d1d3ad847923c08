"""The response cache in the router process's memory (`cache_params.type: local`): at most
MAX_ENTRIES answers, least recently used dropped first, each expiring after its TTL."""

from __future__ import annotations

import time
from collections import OrderedDict

MAX_ENTRIES = 1000


class MemoryCacheStore:
    def __init__(self, max_entries: int = MAX_ENTRIES, clock=time.monotonic) -> None:
        self.max_entries, self.clock = max_entries, clock
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= self.clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return item[1]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._data[key] = (self.clock() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    async def close(self) -> None:
        self._data.clear()
