"""router_service/ready_batches.py: bursts grouped, nothing waits for company, bounded read-ahead,
errors after the items before them, closing stops the source."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from router_service.ready_batches import one_by_one, ready_batches


async def collect(agen) -> list:
    async with aclosing(agen) as it:
        return [batch async for batch in it]


async def bursts(*groups, gap: float = 0.01):
    """Yields each group's items back to back, then waits `gap` (I/O) before the next group."""
    for group in groups:
        for item in group:
            yield item
        await asyncio.sleep(gap)


def test_bursts_become_batches_and_single_items_stay_alone():
    got = asyncio.run(collect(ready_batches(bursts([1, 2, 3], [4], [5, 6]))))
    assert got == [[1], [2, 3], [4], [5, 6]]  # the first item alone, at once
    assert asyncio.run(collect(ready_batches(bursts([])))) == []
    assert asyncio.run(collect(one_by_one(bursts([1, 2], [3])))) == [[1], [2], [3]]


def test_read_ahead_is_bounded():
    produced = []

    async def source():
        for i in range(10):
            produced.append(i)
            yield i

    async def main():
        async with aclosing(ready_batches(source(), max_items=4)) as it:
            assert await it.__anext__() == [0]
            second = await it.__anext__()
            await asyncio.sleep(0.01)  # the consumer dawdles: the source must not run far ahead
            ahead = len(produced)
            rest = [b async for b in it]
        return second, ahead, rest

    second, ahead, rest = asyncio.run(main())
    assert second == [1, 2, 3, 4]
    assert ahead <= 9  # the items taken plus at most max_items more
    assert [i for b in [[0], second, *rest] for i in b] == list(range(10))
    assert all(1 <= len(b) <= 4 for b in [second, *rest])


def test_an_error_comes_after_the_items_before_it():
    async def source():
        yield "a"
        yield "b"
        raise ValueError("upstream broke")

    async def main():
        seen = []
        with pytest.raises(ValueError, match="upstream broke"):
            async for batch in ready_batches(source()):
                seen.append(batch)
        return seen

    assert asyncio.run(main()) == [["a"], ["b"]]


def test_closing_stops_the_source_and_its_task():
    state = {"closed": False, "reads": 0}

    async def endless():
        try:
            while True:
                state["reads"] += 1
                yield state["reads"]
                await asyncio.sleep(0.005)
        finally:
            state["closed"] = True

    async def main():
        before = len(asyncio.all_tasks())
        source = endless()
        async with aclosing(ready_batches(source)) as it:
            await it.__anext__()
            await it.__anext__()  # the grouping task is running now
        assert state["closed"]  # cancelled and finished before aclosing returned
        await source.aclose()  # the source can be closed right after: not "already running"
        reads = state["reads"]
        await asyncio.sleep(0.03)
        return before, len(asyncio.all_tasks()), reads

    before, after, reads = asyncio.run(main())
    assert after == before and state["reads"] == reads  # no task left reading
