"""JSON-lines file sink: one UsageRecord.to_dict() per line, appended off the event loop."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from router_service.usage.record import UsageRecord

DEFAULT_PATH = "./gemgate-usage.jsonl"


class JsonlSink:
    name = "jsonl"

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _append(self, text: str) -> None:
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(text)

    async def send(self, records: list[UsageRecord]) -> None:
        text = "".join(json.dumps(r.to_dict(), separators=(",", ":")) + "\n" for r in records)
        await asyncio.to_thread(self._append, text)

    async def aclose(self) -> None:
        return None
