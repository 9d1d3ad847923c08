"""This router instance's lease in budget_service, and the "upstream call started" marks.

Every reservation names the router that made it. The router renews its lease with a Heartbeat
every lease/5 seconds; a Heartbeat also carries the request ids whose upstream call is about to
start (coalesced: all marks queued while one Heartbeat is in flight go in the next one). A request
waits for its mark to be recorded before its first upstream call, so budget_service knows for sure
which reservations of a dead router never started (released) and which may have (charged in full).
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from gemgate import metrics
from gemgate.errors import ErrorKind, GatewayError
from gemgate.v1 import budget_pb2

log = logging.getLogger("gemgate.router.lease")


class RouterLease:
    def __init__(self, stub, router_id: str, lease_seconds: float, *, timeout: float = 2.5) -> None:
        self.stub = stub
        self.router_id = router_id
        self.lease_seconds = lease_seconds
        self.timeout = timeout
        self._batch: list[tuple[str, asyncio.Future]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Begin renewing the lease (idempotent; called with the first reservation)."""
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def mark_started(self, request_id: str) -> None:
        self.start()
        fut = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved even after a timeout
        self._batch.append((request_id, fut))
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(fut), 2 * self.timeout)
        except asyncio.TimeoutError:
            raise GatewayError(ErrorKind.UNAVAILABLE, "budget service did not record the request's start in "
                               "time; request not sent upstream", retry_after=1.0) from None

    async def _run(self) -> None:
        interval = self.lease_seconds / 5
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            batch, self._batch = self._batch, []
            try:
                with metrics.budget_call_timer("Heartbeat"):
                    await self.stub.Heartbeat(budget_pb2.HeartbeatRequest(
                        router_id=self.router_id, lease_seconds=self.lease_seconds,
                        started_request_ids=[rid for rid, _ in batch]), timeout=self.timeout)
            except grpc.aio.AioRpcError as exc:
                err = GatewayError(ErrorKind.UNAVAILABLE, "budget service could not record the request's start "
                                   f"({exc.code().name}); request not sent upstream", retry_after=1.0)
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(err)
                continue
            except asyncio.CancelledError:
                for _, fut in batch:
                    if not fut.done():
                        fut.cancel()
                raise
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
