"""Redis unreachable -> UNAVAILABLE within the deadline (never a hang), then recovery by itself."""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import urlparse

import grpc
import pytest
from gemgate.redis_client import Redis

from budget_service.redis_store import RedisStore
from gemgate.errors import ErrorKind, GatewayError
from router_service.budget_client import BudgetGate
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import budget_pb2
from tests.service.budget.conftest import MASTER, REDIS_URL, Clock, start


class Proxy:
    """A TCP proxy to Redis that can black-hole traffic (connections stay open, bytes vanish)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.blackhole = False
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                if not self.blackhole:
                    w.write(data)
                    await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    async def _conn(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection(*self.target)
        self.writers += [cw, uw]
        await asyncio.gather(self._pipe(cr, uw), self._pipe(ur, cw))

    def cut(self) -> None:
        self.blackhole = True

    def restore(self) -> None:
        self.blackhole = False
        for w in self.writers:  # drop stale connections; the client must reconnect
            w.close()
        self.writers.clear()

    async def stop(self) -> None:
        self.restore()
        self.server.close()


async def test_redis_down_fails_closed_within_deadline_then_recovers():
    u = urlparse(REDIS_URL)
    proxy = Proxy(u.hostname or "127.0.0.1", u.port or 6379)
    port = await proxy.start()
    db = (u.path or "/0").lstrip("/") or "0"
    auth = f"{u.username or ''}:{u.password}@" if u.password else ""
    url = f"redis://{auth}127.0.0.1:{port}/{db}"
    deadline = 0.5
    store = RedisStore(
        Redis.from_url(url, decode_responses=True, socket_timeout=deadline, socket_connect_timeout=deadline),
        prefix=f"gemgate-test:{uuid.uuid4().hex}:", deadline=deadline,
    )
    h = await start(store, Clock())
    try:
        stub = h.stub()
        key = (await stub.GenerateKey(budget_pb2.GenerateKeyRequest(
            api_key=MASTER, spec=budget_pb2.KeySpec(max_budget=1.0)))).key
        await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="a", estimated_cost_micros=10))

        proxy.cut()
        for rid in ("b", "c"):
            t0 = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as ei:
                await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id=rid, estimated_cost_micros=10),
                                   timeout=10)
            elapsed = time.monotonic() - t0
            err = from_rpc_error(ei.value)
            assert err.kind is ErrorKind.UNAVAILABLE and err.message and key not in err.message
            assert elapsed < 3 * deadline + 0.5
        # the router's client sees the same 503 within its deadline
        h.stub()
        gate = BudgetGate("", deadline=deadline, channel=h.channels[-1])
        t0 = time.monotonic()
        with pytest.raises(GatewayError) as gi:
            await gate.admit(key, "e", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        assert gi.value.kind is ErrorKind.UNAVAILABLE and gi.value.kind.info.http_status == 503
        assert time.monotonic() - t0 < deadline + 1.0
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await stub.Settle(budget_pb2.SettleRequest(request_id="a", actual_cost_micros=5), timeout=10)
        assert from_rpc_error(ei.value).kind is ErrorKind.UNAVAILABLE

        proxy.restore()
        ok = False
        for _ in range(20):
            try:
                await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="d", estimated_cost_micros=10))
                ok = True
                break
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.1)
        assert ok, "did not recover after Redis came back"
        assert (await stub.Settle(budget_pb2.SettleRequest(request_id="a", actual_cost_micros=5))).applied
    finally:
        for ch in h.channels:
            await ch.close()
        await h.server.stop(None)
        await proxy.stop()
        cleaner = RedisStore(Redis.from_url(REDIS_URL, decode_responses=True), prefix=store.prefix)
        await cleaner.delete_prefix()
        await cleaner.close()
        await store.r.aclose()
