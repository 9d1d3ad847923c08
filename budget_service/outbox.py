"""The outbox: charges travel from Redis to the system of record, never lost, never doubled.

Every charge the ledger makes (settle, failed, expired sweep, unreserved) is appended to the Redis
stream `P outbox` by the same Lua script that charges it, so a charge and its outbox entry exist
together or not at all. `Outbox.run()` (a background task in budget_service, off every request
path) copies entries into memory, writes them to PostgreSQL in batches (one statement per batch,
ON CONFLICT (request_id) DO NOTHING, so a retried batch never doubles a row), and deletes them from
the stream only after PostgreSQL committed them. PostgreSQL down: entries wait in the stream (and in
memory, up to `max_pending`) and are retried with backoff until it returns. Redis emptied while
PostgreSQL is down: what was already copied into memory is kept and written later; entries appended
in the last `interval` before the loss and not yet copied are the only ones that can be lost.
"""

from __future__ import annotations

import asyncio
import logging
import time

from budget_service.record.base import RecordStore
from budget_service.spendlog import row_from_charge
from gemgate import metrics
from gemgate.errors import GatewayError
from gemgate.redis_client import RedisError

log = logging.getLogger("gemgate.budget.outbox")

_REDIS_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


class Outbox:
    def __init__(self, client, prefix: str, record: RecordStore, *, batch: int = 500, interval: float = 0.1,
                 max_pending: int = 50_000, max_backoff: float = 2.0) -> None:
        self.r = client
        self.stream = prefix + "outbox"
        self.record = record
        self.batch = batch
        self.interval = interval
        self.max_pending = max_pending
        self.max_backoff = max_backoff
        self.pending: dict[str, dict] = {}  # stream id -> row, in stream order
        self.last_id = "-"
        self.written = 0
        self.failing_since: float | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()

    # ---- one step ----
    async def pull(self) -> int:
        """Copy new stream entries into memory. Returns how many were added."""
        if len(self.pending) >= self.max_pending:
            return 0
        if not self.pending:
            self.last_id = "-"
        start = self.last_id if self.last_id == "-" else "(" + self.last_id
        entries = await asyncio.wait_for(self.r.xrange(self.stream, start, "+", count=self.batch), 5.0)
        added = 0
        for sid, fields in entries:
            sid = sid.decode() if isinstance(sid, bytes) else sid
            self.last_id = sid
            if sid not in self.pending:
                self.pending[sid] = row_from_charge(sid, fields)
                added += 1
        if added:
            metrics.SPEND_LOG_PENDING.set(len(self.pending))
        return added

    async def push(self) -> int:
        """Write one batch of pending rows; drop them from the stream once committed."""
        async with self._lock:
            if not self.pending:
                return 0
            ids = list(self.pending)[: self.batch]
            rows = [self.pending[i] for i in ids]
            try:
                await self.record.insert_spend(rows)  # raises GatewayError(UNAVAILABLE)
            except GatewayError:
                metrics.SPEND_LOG_WRITE_FAILURES.inc()
                raise
            for i in ids:
                self.pending.pop(i, None)
            self.written += len(ids)
            metrics.SPEND_LOG_WRITTEN.inc(len(ids))
            metrics.SPEND_LOG_PENDING.set(len(self.pending))
        try:
            await asyncio.wait_for(self.r.xdel(self.stream, *ids), 5.0)
        except _REDIS_ERRORS:
            pass  # re-read later and skipped by ON CONFLICT: harmless
        return len(ids)

    async def flush(self, timeout: float = 10.0) -> None:
        """Write everything the stream holds now (tests, shutdown, rebuild). Raises on failure."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.pull()
            except _REDIS_ERRORS:
                pass  # Redis gone: still write what is in memory
            if not self.pending:
                return
            await self.push()
            if time.monotonic() > deadline:
                raise TimeoutError("outbox did not drain in time")

    async def flush_memory(self) -> None:
        """Write what is already in memory (before a rebuild reads sums from the record)."""
        while self.pending:
            await self.push()

    # ---- the loop ----
    async def run(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            busy = False
            try:
                busy = bool(await self.pull())
            except _REDIS_ERRORS:
                pass
            except Exception:  # a bug must not stop the outbox
                log.exception("outbox pull failed")
            if self.pending:
                try:
                    busy = bool(await self.push()) or busy
                    if self.failing_since is not None:
                        log.warning("system of record is back: outbox writing again (%d waiting)", len(self.pending))
                    self.failing_since = None
                    backoff = self.interval
                except GatewayError:
                    if self.failing_since is None:
                        self.failing_since = time.monotonic()
                        log.warning("system of record unreachable: %d spend rows wait in the outbox and will be "
                                    "written when it returns", len(self.pending))
                    backoff = min(self.max_backoff, backoff * 2)
                    await self._sleep(backoff)
                    continue
                except Exception:
                    log.exception("outbox push failed")
                    await self._sleep(self.max_backoff)
                    continue
            if not busy:
                await self._sleep(self.interval)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def stop(self) -> None:
        self._stop.set()
