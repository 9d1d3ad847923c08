"""PostgreSQL unreachable (a TCP proxy in front of the shared server, cut): requests keep being
admitted and settled from Redis without waiting for it, management writes are refused with 503,
spend rows wait in the outbox and land exactly once when it returns."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlparse

import grpc
import pytest

from gemgate import metrics
from gemgate.errors import ErrorKind
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import budget_pb2
from tests.service.budget.conftest import MASTER
from tests.service.record.conftest import PG_URL, TcpProxy, start_gateway
from tests.service.record.test_durable import entry, new_key, rows


async def test_postgres_down_requests_served_writes_refused_rows_delivered_once(schema):
    u = urlparse(PG_URL)
    proxy = TcpProxy(u.hostname or "127.0.0.1", u.port or 5432)
    port = await proxy.start()
    url = PG_URL.replace(f"{u.hostname}:{u.port or 5432}", f"127.0.0.1:{port}")
    gw = await start_gateway(schema, pg_url=url, pg_deadline=0.5)
    try:
        stub = gw.stub()
        key = await new_key(stub, max_budget=1.0, key_alias="ci")
        proxy.cut()
        n = 20
        t0 = time.monotonic()
        for i in range(n):
            await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id=f"r{i}", model="flash",
                                                         estimated_cost_micros=100))
            res = await stub.Settle(budget_pb2.SettleRequest(request_id=f"r{i}", actual_cost_micros=10 + i,
                                                             model="flash", success=True, log=entry(key)))
            assert res.applied
        # nothing on the request path waited for PostgreSQL
        assert time.monotonic() - t0 < 2.0
        info = await stub.KeyInfo(budget_pb2.KeyRef(api_key=MASTER, key=key))
        assert info.info.spend == pytest.approx(sum(10 + i for i in range(n)) / 1e6)
        # management writes are refused clearly (503), not half-applied
        t0 = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await stub.GenerateKey(budget_pb2.GenerateKeyRequest(api_key=MASTER, spec=budget_pb2.KeySpec()))
        err = from_rpc_error(ei.value)
        assert err.kind is ErrorKind.UNAVAILABLE and "PostgreSQL" in err.message
        assert time.monotonic() - t0 < 3.0
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.UpdateKey(budget_pb2.UpdateKeyRequest(api_key=MASTER, key=key,
                                                             spec=budget_pb2.KeySpec(max_budget=2.0)))
        assert (await stub.KeyInfo(budget_pb2.KeyRef(api_key=MASTER, key=key))).info.max_budget == 1.0
        # the rows are waiting, not lost (and the wait is visible in /metrics)
        failures = metrics.SPEND_LOG_WRITE_FAILURES._value.get()
        for _ in range(60):
            if metrics.SPEND_LOG_PENDING._value.get() == n and metrics.SPEND_LOG_WRITE_FAILURES._value.get() > failures:
                break
            await asyncio.sleep(0.05)
        assert await gw.redis.r.xlen(gw.redis.k("outbox")) == n
        assert metrics.SPEND_LOG_PENDING._value.get() == n
        assert metrics.SPEND_LOG_WRITE_FAILURES._value.get() > failures

        proxy.restore()
        for _ in range(100):
            if await gw.redis.r.xlen(gw.redis.k("outbox")) == 0:
                break
            await asyncio.sleep(0.05)
        got = await rows(gw)
        assert sorted(r["request_id"] for r in got) == sorted(f"r{i}" for i in range(n))
        assert sum(r["spend_micros"] for r in got) == sum(10 + i for i in range(n))
        # management works again
        await stub.UpdateKey(budget_pb2.UpdateKeyRequest(api_key=MASTER, key=key, spec=budget_pb2.KeySpec(max_budget=2.0)))
    finally:
        await gw.close()
        await gw.redis.delete_prefix()
        await gw.redis.close()
        await proxy.stop()


async def test_batch_retried_after_an_unknown_commit_is_not_doubled(gateway):
    """A batch whose commit answer was lost is written again: ON CONFLICT keeps one row each."""
    stub = gateway.stub()
    key = await new_key(stub)
    for i in range(3):
        await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id=f"x{i}", estimated_cost_micros=5))
        await stub.Settle(budget_pb2.SettleRequest(request_id=f"x{i}", actual_cost_micros=5, log=entry(key)))
    ob = gateway.durable.outbox
    await ob.pull()
    pending = list(ob.pending.values())
    await gateway.durable.record.insert_spend(pending)  # committed, but the outbox "never heard"
    await ob.flush()
    got = await rows(gateway)
    assert len(got) == 3 and sum(r["spend_micros"] for r in got) == 15


async def test_budget_service_starts_while_postgres_is_down(schema):
    """A restart during a PostgreSQL outage must not take keyed traffic down with it."""
    u = urlparse(PG_URL)
    proxy = TcpProxy(u.hostname or "127.0.0.1", u.port or 5432)
    port = await proxy.start()
    url = PG_URL.replace(f"{u.hostname}:{u.port or 5432}", f"127.0.0.1:{port}")
    first = await start_gateway(schema, pg_url=url, pg_deadline=0.5)
    prefix = first.redis.prefix
    key = await new_key(first.stub(), max_budget=0.001)
    await first.close()
    proxy.cut()
    gw = await start_gateway(schema, pg_url=url, prefix=prefix, pg_deadline=0.5, lazy=True)
    gw.durable.record.retry_every = 0.1
    try:
        stub = gw.stub()
        await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="during", model="flash",
                                                     estimated_cost_micros=100))
        assert (await stub.Settle(budget_pb2.SettleRequest(request_id="during", actual_cost_micros=600,
                                                           log=entry(key)))).applied
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await stub.GenerateKey(budget_pb2.GenerateKeyRequest(api_key=MASTER, spec=budget_pb2.KeySpec()))
        assert from_rpc_error(ei.value).kind is ErrorKind.UNAVAILABLE
        await asyncio.sleep(0.2)  # the outbox holds the row in memory too
        # Redis emptied as well: nothing to rebuild from -> 503, never a 401 for a valid key
        await gw.wipe_redis()
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="lost", estimated_cost_micros=1))
        assert from_rpc_error(ei.value).kind is ErrorKind.UNAVAILABLE
        proxy.restore()
        for _ in range(100):  # PostgreSQL back: connects, rebuilds, the key works with its spend
            try:
                await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="after", estimated_cost_micros=300))
                break
            except grpc.aio.AioRpcError as exc:
                assert from_rpc_error(exc).kind is ErrorKind.UNAVAILABLE
                await asyncio.sleep(0.05)
        with pytest.raises(grpc.aio.AioRpcError) as ei:  # 600 spent before the loss + 300 held + 200 > 1000
            await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="over", estimated_cost_micros=200))
        assert from_rpc_error(ei.value).kind is ErrorKind.BUDGET_EXCEEDED
        got = await rows(gw)
        assert [(r["request_id"], r["spend_micros"]) for r in got] == [("during", 600)]
    finally:
        await gw.close()
        await gw.redis.delete_prefix()
        await gw.redis.close()
        await first.redis.close()
        await proxy.stop()
