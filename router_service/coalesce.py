"""Natural batching of calls to another service: an item submitted while fewer than
`max_in_flight` batches are out goes in the next event-loop turn (so a lone request waits for
nothing); items that queue up while batches are out go together in one batch when one returns.
Under load, one round trip carries many items; at low load, each item goes alone at once.

    reserves = Coalescer(send_batch)            # send_batch(items) -> one result per item
    result = await reserves.submit(item)        # a result, or the exception for that item raised

`send_batch` returns, in order, one result or exception instance per item; if it raises, every
item of the batch gets that exception.

With `linger`, an item waits up to that long (counted from its own submission) for company before
it goes, and another batch may `take` the waiting items to carry them (then `deliver` their
results): settlements ride on the next admissions' round trip instead of taking one of their own.
When the oldest waiting item is due, everything waiting goes with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

MAX_BATCH = 256


class Coalescer:
    def __init__(self, send_batch: Callable[[list[Any]], Awaitable[Sequence[Any]]], *,
                 max_batch: int = MAX_BATCH, max_in_flight: int = 1, linger: float = 0.0) -> None:
        self._send = send_batch
        self.max_batch, self.max_in_flight, self.linger = max_batch, max_in_flight, linger
        self._queue: list[tuple[Any, asyncio.Future]] = []
        self._since: list[float] = []  # with linger: when each queued item was submitted (loop time)
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task] = set()

    async def submit(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.append((item, fut))
        if self.linger > 0:
            self._since.append(loop.time())
        self._kick()
        return await fut

    def _kick(self) -> None:
        if self._queue and not self._scheduled and self._in_flight < self.max_in_flight:
            self._scheduled = True
            if self.linger > 0:
                loop = asyncio.get_running_loop()
                loop.call_at(self._since[0] + self.linger, self._flush)
            else:
                asyncio.get_running_loop().call_soon(self._flush)

    def take(self, limit: int = MAX_BATCH) -> list[tuple[Any, asyncio.Future]]:
        """Remove up to `limit` waiting items, to be sent by someone else, who must `deliver` them."""
        taken, self._queue = self._queue[:limit], self._queue[limit:]
        del self._since[:limit]
        return taken

    def _flush(self) -> None:
        self._scheduled = False
        if self._since and self._since[0] + self.linger - 1e-4 > asyncio.get_running_loop().time():
            # the items that were due have been taken meanwhile: wait for the oldest one left
            self._kick()
            return
        while self._queue and self._in_flight < self.max_in_flight:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            del self._since[:self.max_batch]
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        try:
            results = await self._send([item for item, _ in batch])
        except BaseException as exc:  # noqa: BLE001 - every waiter learns what happened
            self.deliver(batch, error=exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self.deliver(batch, results)
        finally:
            self._in_flight -= 1
            self._kick()

    @staticmethod
    def deliver(batch: list[tuple[Any, asyncio.Future]], results: Sequence[Any] | None = None, *,
                error: BaseException | None = None) -> None:
        """Give each waiter of `batch` its result (an exception instance is raised to it), or every
        waiter `error` (also when `results` does not hold exactly one result per item)."""
        if error is None and (results is None or len(results) != len(batch)):
            error = RuntimeError(f"batch of {len(batch)} answered with {len(results or ())} results")
        for i, (_, fut) in enumerate(batch):
            if fut.done():  # its caller gave up waiting
                continue
            res = error if error is not None else results[i]
            if isinstance(res, asyncio.CancelledError):
                fut.cancel()
            elif isinstance(res, BaseException):
                fut.set_exception(res)
            else:
                fut.set_result(res)

    async def close(self) -> None:
        """Cancel the batches still out (their waiters are cancelled)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=1.0)
