"""Delivers usage records to sinks off the request path.

Each sink has its own bounded queue and worker task, so a slow or failing sink only ever fills (and
drops from) its own queue. `record()` never blocks and never raises. Workers batch by size or time,
call the sink with a timeout and a limited retry, and count delivered/failed/dropped records both
in `stats` and in the process metrics (gemgate.metrics).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from gemgate import metrics
from router_service.usage.callbacks import UsageSink
from router_service.usage.record import UsageRecord

log = logging.getLogger(__name__)


@dataclass
class DispatcherSettings:
    queue_size: int = 10_000  # per sink
    batch_size: int = 100
    flush_interval: float = 1.0  # seconds a partial batch may wait
    sink_timeout: float = 5.0  # per delivery attempt
    max_retries: int = 2  # extra attempts after the first
    retry_backoff: float = 0.2  # seconds, doubled per retry


@dataclass
class SinkRoute:
    sink: UsageSink
    on_success: bool = True
    on_failure: bool = True


@dataclass
class _Lane:
    route: SinkRoute
    queue: asyncio.Queue
    task: asyncio.Task | None = None
    stats: Counter = field(default_factory=Counter)


class UsageDispatcher:
    def __init__(self, routes: list[SinkRoute], settings: DispatcherSettings | None = None,
                 *, owned_resources: list | None = None) -> None:
        self.settings = settings or DispatcherSettings()
        self._routes = routes
        self._lanes: list[_Lane] | None = None
        self._closing = False
        self._owned = owned_resources or []  # e.g. the shared httpx.AsyncClient, closed last

    @property
    def sink_names(self) -> list[str]:
        return [r.sink.name for r in self._routes]

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """{sink: {"delivered": n, "failed": n, "dropped": n}}"""
        return {l.route.sink.name: {k: l.stats[k] for k in ("delivered", "failed", "dropped")}
                for l in self._lanes or []}

    def start(self) -> None:
        """Start the workers (needs a running loop; `record()` also starts them on first use)."""
        if self._lanes is not None:
            return
        self._lanes = []
        for route in self._routes:
            # one slot above the limit so the close sentinel always fits
            lane = _Lane(route, asyncio.Queue(maxsize=self.settings.queue_size + 1))
            lane.task = asyncio.get_running_loop().create_task(self._run(lane), name=f"usage-{route.sink.name}")
            self._lanes.append(lane)

    def record(self, rec: UsageRecord) -> None:
        """Enqueue for every sink that wants this status. Never blocks, never raises."""
        try:
            if self._closing or not self._routes:
                return
            if self._lanes is None:
                self.start()
            ok = rec.status == "success"
            for lane in self._lanes or []:
                if not (lane.route.on_success if ok else lane.route.on_failure):
                    continue
                if lane.queue.qsize() >= self.settings.queue_size:
                    self._count(lane, "dropped", 1)
                else:
                    lane.queue.put_nowait(rec)
        except Exception:  # noqa: BLE001 - usage logging must never fail a request
            log.exception("usage dispatcher: record() failed; record dropped")

    async def aclose(self, deadline: float = 5.0) -> None:
        """Stop accepting, flush what is queued within `deadline` seconds, then close sinks."""
        self._closing = True
        lanes = self._lanes or []
        for lane in lanes:
            lane.queue.put_nowait(None)
        tasks = [l.task for l in lanes if l.task]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=deadline)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        for lane in lanes:  # whatever could not be flushed is dropped, and counted
            left = sum(1 for _ in range(lane.queue.qsize()) if lane.queue.get_nowait() is not None)
            if left:
                self._count(lane, "dropped", left)
        for route in self._routes:
            try:
                await asyncio.wait_for(route.sink.aclose(), timeout=1.0)
            except Exception:  # noqa: BLE001
                log.warning("usage sink %s: close failed", route.sink.name)
        for res in self._owned:
            try:
                await res.aclose()
            except Exception:  # noqa: BLE001
                pass

    # ---- worker ----
    async def _run(self, lane: _Lane) -> None:
        s = self.settings
        stop = False
        while not stop:
            batch: list[UsageRecord] = []
            first = await lane.queue.get()
            if first is None:
                stop = True
            else:
                batch.append(first)
                until = time.monotonic() + s.flush_interval
                while len(batch) < s.batch_size:
                    remaining = until - time.monotonic()
                    if self._closing:
                        remaining = 0
                    try:
                        item = lane.queue.get_nowait() if remaining <= 0 else await asyncio.wait_for(
                            lane.queue.get(), remaining)
                    except (asyncio.QueueEmpty, asyncio.TimeoutError):
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
            if stop:  # drain what is left before exiting
                while not lane.queue.empty():
                    item = lane.queue.get_nowait()
                    if item is not None:
                        batch.append(item)
            for i in range(0, len(batch), s.batch_size):
                await self._deliver(lane, batch[i:i + s.batch_size])

    async def _deliver(self, lane: _Lane, batch: list[UsageRecord]) -> None:
        s, sink = self.settings, lane.route.sink
        for attempt in range(s.max_retries + 1):
            try:
                await asyncio.wait_for(sink.send(batch), timeout=s.sink_timeout)
                self._count(lane, "delivered", len(batch))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                err = "timeout" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__
                if attempt < s.max_retries and not self._closing:
                    await asyncio.sleep(s.retry_backoff * (2 ** attempt))
                    continue
                log.warning("usage sink %s: dropped batch of %d after %d attempt(s): %s",
                            sink.name, len(batch), attempt + 1, err)
                self._count(lane, "failed", len(batch))
                return

    @staticmethod
    def _count(lane: _Lane, what: str, n: int) -> None:
        lane.stats[what] += n
        counter = {"delivered": metrics.USAGE_DELIVERED, "failed": metrics.USAGE_FAILED,
                   "dropped": metrics.USAGE_DROPPED}[what]
        counter.labels(lane.route.sink.name).inc(n)
