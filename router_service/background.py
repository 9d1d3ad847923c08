"""Tasks that must finish even though nobody awaits them (settlements, releases); drained on shutdown."""

from __future__ import annotations

import asyncio


class BackgroundTasks:
    def __init__(self) -> None:
        self.pending: set[asyncio.Task] = set()

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        if self.pending:
            await asyncio.wait(set(self.pending), timeout=timeout)
