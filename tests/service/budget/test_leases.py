"""Router leases, started marks, extension and dead-router sweeping against real Redis through a
real BudgetService gRPC server; and 1,000 concurrent Reserve/Settle calls on a healthy Redis."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from budget_service.redis_store import RedisStore
from gemgate.errors import ErrorKind
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import budget_pb2
from tests.service.budget.conftest import MASTER, REDIS_URL, Clock, start
from tests.service.budget.test_admission import key_spend, kind_of, new_key, settle


async def reserve(stub, key, rid, cost, *, router="", lease=0.0, extend=False, tokens=10):
    return await stub.Reserve(budget_pb2.ReserveRequest(
        api_key=key, request_id=rid, model="m", estimated_cost_micros=cost, estimated_tokens=tokens,
        router_id=router, lease_seconds=lease, extend=extend))


async def outstanding(h, key) -> int:
    doc = await h.store.get_doc("key", __import__("budget_service.keys", fromlist=["hash_key"]).hash_key(key))
    return await h.store.get_int(h.store.k(f"out:key:{doc['id']}"))


async def test_extend_reserves_the_difference_or_refuses(harness):
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.003)  # 3000 micros
    other = await new_key(stub, max_budget=1.0)
    await reserve(stub, key, "r", 1000, router="a", lease=5)
    assert (await reserve(stub, key, "r", 2500, router="a", lease=5, extend=True)).reserved_micros == 2500
    assert (await reserve(stub, key, "r", 2000, router="a", lease=5, extend=True)).reserved_micros == 2500  # never lowers
    assert await outstanding(harness, key) == 2500
    assert await kind_of(reserve(stub, key, "r", 3001, router="a", lease=5, extend=True)) is ErrorKind.BUDGET_EXCEEDED
    # another key cannot touch this reservation; an unknown id cannot be extended
    assert await kind_of(reserve(stub, other, "r", 2600, router="a", lease=5, extend=True)) is ErrorKind.INVALID_REQUEST
    assert await kind_of(reserve(stub, key, "nope", 10, router="a", lease=5, extend=True)) is ErrorKind.INVALID_REQUEST
    assert (await settle(stub, "r", 700)).applied
    assert await outstanding(harness, key) == 0
    assert await key_spend(harness, key) == 700


async def test_dead_router_started_charged_in_full_never_started_released_late_settle_corrects_once(harness):
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.01, max_parallel_requests=2)
    await reserve(stub, key, "started", 3000, router="dead", lease=0.3)
    await reserve(stub, key, "idle", 2000, router="dead", lease=0.3)
    hb = await stub.Heartbeat(budget_pb2.HeartbeatRequest(router_id="dead", lease_seconds=0.3,
                                                         started_request_ids=["started", "unknown"]))
    assert hb.marked == 1
    assert await kind_of(reserve(stub, key, "x", 1, router="live", lease=5)) is ErrorKind.RATE_LIMIT  # 2 slots held
    await asyncio.sleep(0.4)  # the dead router's lease key expires (Redis time)
    harness.clock.now += 1    # and its reservations are due
    assert await harness.ledger.sweep() == 2
    assert await key_spend(harness, key) == 3000  # the started one in full, the idle one released
    assert await outstanding(harness, key) == 0
    await reserve(stub, key, "y", 1, router="live", lease=5)  # its parallel slots were freed
    late = await settle(stub, "started", 120)  # the router was only cut off: correct to the actual cost
    assert late.applied and late.charged_micros == 120
    assert not (await settle(stub, "started", 120)).applied
    assert (await settle(stub, "idle", 50)).applied
    assert await key_spend(harness, key) == 170


async def test_live_router_keeps_its_reservations(harness):
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.01)
    await reserve(stub, key, "long-stream", 3000, router="alive", lease=0.5)
    for _ in range(3):  # the router heartbeats; its reservation outlives many lease periods
        await stub.Heartbeat(budget_pb2.HeartbeatRequest(router_id="alive", lease_seconds=0.5))
        harness.clock.now += 1
        assert await harness.ledger.sweep() == 0
    assert await outstanding(harness, key) == 3000
    assert (await settle(stub, "long-stream", 42)).applied
    assert await key_spend(harness, key) == 42


async def test_no_dead_router_sweep_until_store_reachable_for_grace(store):
    h = await start(store, Clock(), dead_router_grace=3600.0)  # the store "just came back"
    try:
        stub = h.stub()
        key = await new_key(stub, max_budget=0.01)
        await reserve(stub, key, "r", 3000, router="gone", lease=0.2)
        await asyncio.sleep(0.3)
        h.clock.now += 10
        assert await h.ledger.sweep() == 0  # live routers get the grace period to renew first
        assert await outstanding(h, key) == 3000
        h.ledger.dead_router_grace = 0.0
        assert await h.ledger.sweep() == 1
        assert await outstanding(h, key) == 0
    finally:
        for ch in h.channels:
            await ch.close()
        await h.server.stop(None)


async def test_1000_concurrent_reserve_settle_on_healthy_redis_no_errors(store):
    # the production store: bounded, blocking connection pool (waits for a free connection)
    real = RedisStore.from_url(REDIS_URL, prefix=store.prefix, deadline=5.0)
    h = await start(real, Clock(), dead_router_grace=0.0)
    try:
        stubs = [h.stub() for _ in range(4)]
        key = await new_key(stubs[0], max_budget=100.0)
        errors: list[str] = []

        async def one(i: int) -> None:
            stub = stubs[i % len(stubs)]
            try:
                await reserve(stub, key, f"c{i}", 100, router="r1", lease=15)
                assert (await settle(stub, f"c{i}", 7)).applied
            except grpc.aio.AioRpcError as exc:
                errors.append(f"{from_rpc_error(exc).kind.name}: {exc.details()}")

        t0 = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(1000)))
        elapsed = time.monotonic() - t0
        assert errors == [], f"{len(errors)} errors, first: {errors[:3]}"
        assert await key_spend(h, key) == 7000
        assert await outstanding(h, key) == 0
        print(f"1000 concurrent Reserve+Settle in {elapsed:.2f}s")
    finally:
        for ch in h.channels:
            await ch.close()
        await h.server.stop(None)
        await real.close()
