"""Admission and settlement against the real Redis through a real BudgetService gRPC server."""

from __future__ import annotations

import asyncio
import random

import grpc
import pytest

from gemgate.errors import ErrorKind
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import budget_pb2
from tests.service.budget.conftest import MASTER, Clock, start


async def new_key(stub, **spec) -> str:
    resp = await stub.GenerateKey(budget_pb2.GenerateKeyRequest(api_key=MASTER, spec=budget_pb2.KeySpec(**spec)))
    return resp.key


async def reserve(stub, key, rid, cost, tokens=10, model="m"):
    return await stub.Reserve(budget_pb2.ReserveRequest(
        api_key=key, request_id=rid, model=model, estimated_cost_micros=cost, estimated_tokens=tokens))


async def settle(stub, rid, cost, tokens=10, success=True, model="m"):
    return await stub.Settle(budget_pb2.SettleRequest(
        request_id=rid, actual_cost_micros=cost, actual_tokens=tokens, success=success, model=model))


async def kind_of(aw) -> ErrorKind:
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await aw
    return from_rpc_error(ei.value).kind


async def key_spend(h, key) -> int:
    info = await h.stub().KeyInfo(budget_pb2.KeyRef(api_key=MASTER, key=key))
    return round(info.info.spend * 1_000_000)


async def test_concurrent_reserve_settle_never_overspends(budget):
    stub = budget.stub()
    key = await new_key(stub, max_budget=0.01)  # 10_000 micros
    rng = random.Random(7)
    charged: list[int] = []
    admitted = rejected = 0

    async def one(i: int) -> None:
        nonlocal admitted, rejected
        rid = f"r{i}"
        try:
            await reserve(stub, key, rid, 400)
        except grpc.aio.AioRpcError as exc:
            assert from_rpc_error(exc).kind is ErrorKind.BUDGET_EXCEEDED
            rejected += 1
            return
        admitted += 1
        await asyncio.sleep(rng.random() * 0.01)
        actual = rng.randint(0, 400)
        resp = await settle(stub, rid, actual)
        assert resp.applied
        charged.append(actual)

    await asyncio.gather(*(one(i) for i in range(200)))
    spend = await key_spend(budget, key)
    assert spend == sum(charged)
    assert spend <= 10_000
    assert admitted > 0 and rejected > 0
    # exhaust exactly, then no more admissions
    left = 10_000 - spend
    if left:
        await reserve(stub, key, "fill", left)
        await settle(stub, "fill", left)
    assert await kind_of(reserve(stub, key, "after", 1)) is ErrorKind.BUDGET_EXCEEDED
    assert await key_spend(budget, key) == 10_000


async def test_zero_budget_rejects_first_call_with_named_entity(budget):
    stub = budget.stub()
    key = await new_key(stub, max_budget=0.0, key_alias="zero")
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await reserve(stub, key, "a", 0)
    err = from_rpc_error(ei.value)
    assert err.kind is ErrorKind.BUDGET_EXCEEDED and "'zero'" in err.message and "$0.000000" in err.message
    assert key not in err.message


async def test_period_reset_with_injected_clock(budget):
    stub = budget.stub()
    budget.clock.now = 1_800_000_000.0 - (1_800_000_000 % 30)  # start of a 30s period
    key = await new_key(stub, max_budget=0.001, budget_duration="30s")
    await reserve(stub, key, "a", 1000)
    await settle(stub, "a", 1000)
    assert await kind_of(reserve(stub, key, "b", 1)) is ErrorKind.BUDGET_EXCEEDED
    budget.clock.now += 29
    assert await kind_of(reserve(stub, key, "c", 1)) is ErrorKind.BUDGET_EXCEEDED
    budget.clock.now += 1  # next period
    await reserve(stub, key, "d", 1000)
    await settle(stub, "d", 500)
    info = await stub.KeyInfo(budget_pb2.KeyRef(api_key=MASTER, key=key))
    assert round(info.info.spend * 1e6) == 500 and round(info.info.total_spend * 1e6) == 1500


async def test_month_period(budget):
    stub = budget.stub()
    budget.clock.now = 1_798_761_599.0  # 2026-12-31T23:59:59Z
    key = await new_key(stub, max_budget=0.001, budget_duration="1mo")
    await reserve(stub, key, "a", 1000)
    await settle(stub, "a", 1000)
    assert await kind_of(reserve(stub, key, "b", 1)) is ErrorKind.BUDGET_EXCEEDED
    budget.clock.now += 1
    await reserve(stub, key, "c", 1000)


async def test_idempotent_settle_under_concurrent_duplicates(budget):
    stub = budget.stub()
    key = await new_key(stub, max_budget=1.0)
    await reserve(stub, key, "dup", 5000)
    results = await asyncio.gather(*(settle(budget.stub(), "dup", 1234) for _ in range(50)))
    assert sum(r.applied for r in results) == 1
    assert await key_spend(budget, key) == 1234
    # a reservation for the same request id after settling is refused
    assert await kind_of(reserve(stub, key, "dup", 1)) is ErrorKind.INVALID_REQUEST


async def test_cancel_releases_reservation_and_parallel_slot(budget):
    stub = budget.stub()
    key = await new_key(stub, max_budget=0.001, max_parallel_requests=1)
    await reserve(stub, key, "a", 1000)
    assert await kind_of(reserve(stub, key, "b", 1)) in (ErrorKind.BUDGET_EXCEEDED, ErrorKind.RATE_LIMIT)
    await settle(stub, "a", 0, tokens=0, success=False)
    await reserve(stub, key, "c", 1000)
    await settle(stub, "c", 0, success=False)
    assert await key_spend(budget, key) == 0


async def test_limits_across_two_channels(budget):
    a, b = budget.stub(), budget.stub()
    rpm_key = await new_key(a, rpm_limit=3)
    for i, stub in enumerate([a, b, a]):
        await reserve(stub, rpm_key, f"rpm{i}", 1)
        await settle(stub, f"rpm{i}", 1)
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await reserve(b, rpm_key, "rpm3", 1)
    err = from_rpc_error(ei.value)
    assert err.kind is ErrorKind.RATE_LIMIT and err.retry_after and err.retry_after >= 1
    budget.clock.now += 60  # next minute window
    await reserve(b, rpm_key, "rpm4", 1)

    tpm_key = await new_key(a, tpm_limit=100)
    await reserve(a, tpm_key, "t1", 1, tokens=60)
    assert await kind_of(reserve(b, tpm_key, "t2", 1, tokens=60)) is ErrorKind.RATE_LIMIT
    await settle(a, "t1", 1, tokens=20)  # actual tokens lower: window usage corrected
    await reserve(b, tpm_key, "t3", 1, tokens=60)

    par_key = await new_key(a, max_parallel_requests=2)
    await asyncio.gather(reserve(a, par_key, "p1", 1), reserve(b, par_key, "p2", 1))
    assert await kind_of(reserve(b, par_key, "p3", 1)) is ErrorKind.RATE_LIMIT
    await settle(b, "p1", 1)
    await reserve(a, par_key, "p4", 1)


async def test_reservation_without_router_expires_charged_in_full_and_late_settle_corrects_once(store):
    clock = Clock()
    h = await start(store, clock, reservation_ttl=60)
    try:
        stub = h.stub()
        key = await new_key(stub, max_budget=0.01, max_parallel_requests=1)
        await reserve(stub, key, "lost", 3000)  # the router crashes: never settled
        assert await kind_of(reserve(stub, key, "x", 1)) is ErrorKind.RATE_LIMIT
        clock.now += 61
        await reserve(stub, key, "next", 1000)  # sweep charged "lost" in full and freed its slot
        assert await key_spend(h, key) == 3000
        late = await settle(stub, "lost", 10)  # its router was alive after all: corrected once
        assert late.applied and late.charged_micros == 10
        assert not (await settle(stub, "lost", 10)).applied
        await settle(stub, "next", 1000)
        assert await key_spend(h, key) == 1010
    finally:
        for ch in h.channels:
            await ch.close()
        await h.server.stop(None)


async def test_team_and_user_budgets_enforced(budget):
    stub = budget.stub()
    await stub.NewTeam(budget_pb2.TeamRequest(api_key=MASTER, id="t1", spec=budget_pb2.EntitySpec(max_budget=0.002)))
    await stub.NewUser(budget_pb2.TeamRequest(api_key=MASTER, id="u1", spec=budget_pb2.EntitySpec(max_budget=0.001)))
    k1 = await new_key(stub, team_id="t1")
    k2 = await new_key(stub, team_id="t1", user_id="u1")
    await reserve(stub, k1, "a", 1500)
    await settle(stub, "a", 1500)
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await reserve(stub, k2, "b", 600)
    assert "team 't1'" in from_rpc_error(ei.value).message
    await reserve(stub, k2, "c", 500)
    await settle(stub, "c", 500)
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await reserve(stub, await new_key(stub, user_id="u1"), "d", 600)
    assert "user 'u1'" in from_rpc_error(ei.value).message
    spend = await stub.Spend(budget_pb2.SpendRequest(api_key=MASTER, view="models"))
    assert round(spend.total_spend * 1e6) == 2000 and spend.rows[0].name == "m"


async def test_model_restriction(budget):
    stub = budget.stub()
    key = await new_key(stub, models=["gemini-flash"], aliases={"fast": "gemini-flash"})
    await stub.Authorize(budget_pb2.AuthorizeRequest(api_key=key, model="gemini-flash"))
    await stub.Authorize(budget_pb2.AuthorizeRequest(api_key=key, model="fast"))
    assert await kind_of(reserve(stub, key, "a", 1, model="gemini-pro")) is ErrorKind.PERMISSION


async def test_regenerate_keeps_spend_and_budget(budget):
    stub = budget.stub()
    key = await new_key(stub, max_budget=0.001)
    await reserve(stub, key, "a", 1000)
    await settle(stub, "a", 1000)
    new = (await stub.RegenerateKey(budget_pb2.KeyRef(api_key=MASTER, key=key))).key
    assert await kind_of(reserve(stub, new, "b", 1)) is ErrorKind.BUDGET_EXCEEDED
    assert await key_spend(budget, new) == 1000


CHILD = r"""
import sys, grpc
from gemgate.v1 import budget_pb2, budget_pb2_grpc
addr, key = sys.argv[1], sys.argv[2]
with grpc.insecure_channel(addr) as ch:
    stub = budget_pb2_grpc.BudgetServiceStub(ch)
    for rid in sys.argv[3:]:
        try:
            stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id=rid, estimated_cost_micros=1,
                                                   estimated_tokens=1), timeout=5)
            print(rid, "ok")
        except grpc.RpcError as exc:
            print(rid, exc.code().name)
"""


async def test_parallel_limit_across_processes(budget):
    import sys

    stub = budget.stub()
    key = await new_key(stub, max_parallel_requests=2, rpm_limit=4)
    await reserve(stub, key, "here", 1)  # held by this process
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, budget.address, key, "c1", "c2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert out.decode().split("\n")[:2] == ["c1 ok", "c2 RESOURCE_EXHAUSTED"], err.decode()
    await settle(stub, "here", 1)
    await settle(stub, "c1", 1)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, budget.address, key, "c3", "c4",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    # parallel slots free again; now 2 in flight and 4 admitted this minute (a denied reserve counts nothing)
    assert out.decode().split("\n")[:2] == ["c3 ok", "c4 ok"], err.decode()
    assert await kind_of(reserve(stub, key, "c5", 1)) is ErrorKind.RATE_LIMIT
