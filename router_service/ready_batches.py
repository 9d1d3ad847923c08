"""Group the items an async iterator has at hand, so one message can carry a burst.

An upstream often delivers several stream events in one read (a fast model, a proxy that buffers, a
cached answer); sent one gRPC message each, every event costs a round of completion-queue work on
both sides. `ready_batches(source)` yields the first item alone (at once: the time to first token
never waits for a burst's rest), then lists: the next item plus every item `source` produced right
after it without waiting on I/O (up to `max_items`). When the upstream sends events one at a time,
every list holds one item and nothing waits for company.

The source runs in its own task, at most `max_items` ahead of the consumer (a reader that stops
reading stops the upstream read too). Closing the generator (`aclose`, or leaving an `aclosing`
block) cancels that task and waits for it, so the source can be closed right after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")

MAX_ITEMS = 64


async def ready_batches(source: AsyncIterator[T], max_items: int = MAX_ITEMS) -> AsyncIterator[list[T]]:
    """Lists of what `source` yields, in order, each non-empty; its exception after the items
    produced before it. The first item goes alone, at once (a stream's time to first token does not
    wait for the rest of a burst); the grouping starts with the second."""
    try:
        first = await source.__anext__()
    except StopAsyncIteration:
        return
    yield [first]
    buf: list[T] = []
    state: dict = {"done": False, "error": None}
    ready, room = asyncio.Event(), asyncio.Event()
    room.set()

    async def pump() -> None:
        try:
            async for item in source:
                buf.append(item)
                ready.set()
                if len(buf) >= max_items:
                    room.clear()
                    await room.wait()
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, raised there
            state["error"] = exc
        except BaseException:  # cancelled: by the finally below, or (never silently) by anyone else
            state["error"] = RuntimeError("the stream's source was cancelled")
            raise
        finally:
            state["done"] = True
            ready.set()

    task = asyncio.get_running_loop().create_task(pump())
    try:
        while True:
            if not buf and not state["done"]:
                ready.clear()
                await ready.wait()
            if buf:
                batch = buf[:]
                del buf[:]
                room.set()
                yield batch
            elif state["done"]:
                if state["error"] is not None:
                    raise state["error"]
                return
    finally:
        if not task.done():
            task.cancel()
        await asyncio.wait({task})


async def one_by_one(source: AsyncIterator[T]) -> AsyncIterator[list[T]]:
    """`ready_batches`' shape with one item per list, no task (for one-message-per-item streams)."""
    async for item in source:
        yield [item]


class RouteHead:
    """A batched stream's route facts: kept when the request is routed (awaited as the stream's
    `head`), then `take()`n once for the first message (later messages carry none)."""

    def __init__(self) -> None:
        self._pairs: dict[str, str] = {}

    async def __call__(self, pairs) -> None:
        self._pairs = dict(pairs)

    def take(self) -> dict[str, str]:
        pairs, self._pairs = self._pairs, {}
        return pairs
