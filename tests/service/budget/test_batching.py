"""Batched admission and settlement (ReserveBatch / SettleBatch, the router's Coalescer), the
admission's document cache and the `started` mark, against a real BudgetService and Redis."""

from __future__ import annotations

import asyncio

import pytest

from budget_service.ledger import Ledger
from gemgate.config import parse_config
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import from_status_bytes
from gemgate.v1 import budget_pb2
from router_service.budget_client import BudgetGate
from router_service.coalesce import Coalescer
from tests.service.budget.conftest import MASTER
from tests.service.budget.test_admission import key_spend, new_key, settle

CONFIG = parse_config({"model_list": [{"model_name": "chat", "litellm_params": {"model": "gemini/gemini-2.5-flash"}}]})


def item(key, rid, cost, **kw):
    return budget_pb2.ReserveRequest(api_key=key, request_id=rid, model="m", estimated_cost_micros=cost,
                                     estimated_tokens=10, **kw)


def outcome(o):
    return o.ok if o.WhichOneof("result") == "ok" else from_status_bytes(o.error)


async def test_reserve_batch_answers_each_item_on_its_own(harness):
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.003)  # 3000 micros
    resp = await stub.ReserveBatch(budget_pb2.ReserveBatchRequest(items=[
        item(key, "a", 2000), item(key, "b", 2000), item("sk-nope", "c", 1), item(key, "a", 1), item(MASTER, "d", 5)]))
    got = [outcome(o) for o in resp.items]
    assert got[0].reserved_micros == 2000 and got[4].reserved_micros == 5
    kinds = {i: g.kind for i, g in enumerate(got) if isinstance(g, GatewayError)}
    # b does not fit next to a (in whichever order they ran, exactly one of them was admitted)
    assert kinds == {1: ErrorKind.BUDGET_EXCEEDED, 2: ErrorKind.AUTHENTICATION} or \
        kinds[2] is ErrorKind.AUTHENTICATION and len(kinds) == 2
    assert got[3].reserved_micros == 2000  # the same id again: its existing reservation, no new charge
    resp = await stub.SettleBatch(budget_pb2.SettleBatchRequest(items=[
        budget_pb2.SettleRequest(request_id="a", actual_cost_micros=700, success=True),
        budget_pb2.SettleRequest(request_id="a", actual_cost_micros=700, success=True),
        budget_pb2.SettleRequest(request_id="d", actual_cost_micros=3, success=True)]))
    applied = [outcome(o).applied for o in resp.items]
    assert sorted(applied[:2]) == [False, True] and applied[2]  # exactly once per request id
    assert await key_spend(harness, key) == 700


async def test_gate_coalesces_concurrent_admissions_and_budgets_stay_exact(harness):
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.010)
    gate = BudgetGate("", deadline=2.0, config=CONFIG, channel=harness.channels[-1])
    sizes: list[int] = []
    real = gate.reserve_rpc

    def counting(req, **kw):
        sizes.append(len(req.items))
        return real(req, **kw)

    gate.reserve_rpc = counting
    try:
        lone = await gate.admit(key, "lone", {"model": "chat", "messages": [], "max_tokens": 1}, started=True)
        assert sizes == [1] and lone.started  # nothing queued: the item goes at once, alone
        await gate.settle(lone, usage={"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                          route=None, success=True, cost_micros=0)
        sizes.clear()

        async def one(i):
            try:
                return await gate._reserve(key, f"r{i}", "chat", 1000, 10, extend=False)
            except GatewayError as err:
                return err

        results = await asyncio.gather(*(one(i) for i in range(60)))
        admitted = [r for r in results if not isinstance(r, GatewayError)]
        refused = [r for r in results if isinstance(r, GatewayError)]
        assert len(admitted) == 10 and all(r.kind is ErrorKind.BUDGET_EXCEEDED for r in refused)  # never more
        assert sum(sizes) == 60 and len(sizes) < 60 and max(sizes) > 1  # round trips were shared
        outs = await asyncio.gather(*(gate._settles.submit(budget_pb2.SettleRequest(
            request_id=f"r{i}", actual_cost_micros=1000, success=True)) for i in range(60)))
        assert sum(o.applied for o in outs) == 10
        assert await key_spend(harness, key) == 10_000
    finally:
        await gate.close()


async def test_coalescer_failure_reaches_every_waiter_and_it_recovers():
    calls: list[list[int]] = []
    fail = True

    async def send(items):
        calls.append(items)
        await asyncio.sleep(0.01)
        if fail:
            raise GatewayError(ErrorKind.UNAVAILABLE, "down")
        return [x * 2 if x % 3 else ValueError(x) for x in items]

    c = Coalescer(send, max_in_flight=1)
    res = await asyncio.gather(*(c.submit(i) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, GatewayError) for r in res)
    fail = False
    res = await asyncio.gather(*(c.submit(i) for i in range(1, 8)), return_exceptions=True)
    assert [r if not isinstance(r, Exception) else "err" for r in res] == [2, 4, "err", 8, 10, "err", 14]
    assert len(calls) <= 4  # one batch for the first 5; the next 7 in at most a few


async def test_cached_documents_never_outlive_a_change(harness):
    stub = harness.stub()
    key = await new_key(stub, max_budget=1.0)
    n = iter(range(1000))

    async def admit(k=key):
        rid = f"c{next(n)}"
        try:
            await stub.Reserve(item(k, rid, 1000))
        except Exception as exc:  # noqa: BLE001
            from gemgate.grpc_errors import from_rpc_error
            return from_rpc_error(exc).kind
        await settle(stub, rid, 0)
        return "ok"

    assert await admit() == "ok" and len(harness.ledger.docs) == 1  # cached now
    await harness.ledger.set_blocked(MASTER, key, True)
    assert await admit() is ErrorKind.PERMISSION
    await harness.ledger.set_blocked(MASTER, key, False)
    assert await admit() == "ok"
    # another budget_service instance over the same Redis changes the key: the script sees it
    other = Ledger(harness.store, MASTER, clock=harness.clock)
    await other.update_key(MASTER, key, {"max_budget": 0.0005})  # USD: below one request
    assert await admit() is ErrorKind.BUDGET_EXCEEDED
    await other.update_key(MASTER, key, {"max_budget": 1.0})
    assert await admit() == "ok"
    await other.delete_keys(MASTER, [key])
    assert await admit() is ErrorKind.AUTHENTICATION


async def test_team_change_seen_through_the_cache(harness):
    stub = harness.stub()
    await stub.NewTeam(budget_pb2.TeamRequest(api_key=MASTER, id="t1", spec=budget_pb2.EntitySpec(max_budget=1.0)))
    key = await new_key(stub, team_id="t1")
    await stub.Reserve(item(key, "t-a", 1000))
    await settle(stub, "t-a", 1000)
    other = Ledger(harness.store, MASTER, clock=harness.clock)
    await other.update_entity(MASTER, "team", "t1", {"max_budget": 0.0015})  # 1000 micro-USD spent: no room for 1000 more
    with pytest.raises(Exception) as exc:
        await stub.Reserve(item(key, "t-b", 1000))
    from gemgate.grpc_errors import from_rpc_error
    assert from_rpc_error(exc.value).kind is ErrorKind.BUDGET_EXCEEDED


async def test_reservation_started_at_admission_is_charged_in_full_when_its_router_dies(harness):
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.01)
    await stub.Reserve(item(key, "s", 3000, router_id="dead", lease_seconds=0.3, started=True))
    await stub.Reserve(item(key, "n", 2000, router_id="dead", lease_seconds=0.3))
    await asyncio.sleep(0.4)
    harness.clock.now += 1
    assert await harness.ledger.sweep() == 2
    assert await key_spend(harness, key) == 3000  # started at admission: full; the other released


async def test_admission_abandoned_while_its_batch_is_out_is_released(harness):
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.01, max_parallel_requests=1)
    gate = BudgetGate("", deadline=2.0, config=CONFIG, channel=harness.channels[-1])
    real = gate.reserve_rpc

    async def slow(req, **kw):
        await asyncio.sleep(0.3)  # the client goes away meanwhile
        return await real(req, **kw)

    gate.reserve_rpc = slow
    try:
        task = asyncio.ensure_future(gate.admit(key, "gone", {"model": "chat", "messages": [], "max_tokens": 5},
                                                started=True))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.reserve_rpc = real
        await asyncio.sleep(0.4)  # the slow batch has landed: "gone" holds the only parallel slot
        for _ in range(50):  # ... until it is released
            await asyncio.sleep(0.05)
            try:
                await gate.admit(key, "next", {"model": "chat", "messages": [], "max_tokens": 5}, started=True)
                break
            except GatewayError as err:
                assert err.kind is ErrorKind.RATE_LIMIT  # the abandoned one still holds the only slot
        else:
            raise AssertionError("the abandoned reservation was never released")
        assert await key_spend(harness, key) == 0
    finally:
        await gate.close()


def settle_req(rid, cost, success=True):
    return budget_pb2.SettleRequest(request_id=rid, actual_cost_micros=cost, actual_tokens=5, model="m",
                                    success=success)


async def test_settlements_carried_by_a_reserve_batch_are_applied_before_its_admissions(harness):
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.01, max_parallel_requests=1)
    await stub.Reserve(item(key, "first", 3000))
    # the only parallel slot is held by "first": alone, "second" is refused ...
    resp = await stub.ReserveBatch(budget_pb2.ReserveBatchRequest(items=[item(key, "second", 3000)]))
    assert outcome(resp.items[0]).kind is ErrorKind.RATE_LIMIT and not resp.settled
    # ... carried with first's settlement, which is applied first, it is admitted
    resp = await stub.ReserveBatch(budget_pb2.ReserveBatchRequest(
        items=[item(key, "second", 3000)], settles=[settle_req("first", 1200), settle_req("first", 1200),
                                                     settle_req("never-reserved", 0, success=False)]))
    assert outcome(resp.items[0]).reserved_micros == 3000
    done = [outcome(o) for o in resp.settled]
    assert [d.applied for d in done[:2]] == [True, False]  # exactly once per request id
    assert done[0].charged_micros == 1200 and len(done) == 3
    await settle(stub, "second", 800)
    assert await key_spend(harness, key) == 2000


def counting_gate(harness, linger: float = 0.5):
    gate = BudgetGate("", deadline=2.0, config=CONFIG, channel=harness.channels[-1])
    # a settlement waits this long for an admission to ride on (3 ms in production: long enough for a
    # client's next request on an idle machine, not on a test machine under load)
    gate._settles.linger = linger
    sent = {"ReserveBatch": [], "SettleBatch": []}
    for method, attr, owner in (("ReserveBatch", "reserve_rpc", gate), ("SettleBatch", "SettleBatch", gate.stub)):
        real = getattr(owner, attr)

        def wrapped(req, *, _real=real, _method=method, **kw):
            sent[_method].append(req)
            return _real(req, **kw)

        setattr(owner, attr, wrapped)
    return gate, sent


REQ = {"model": "chat", "messages": [], "max_tokens": 5}
USAGE = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}


async def test_sequential_client_settlement_rides_on_its_next_admission(harness):
    """A client that sends its next request right after an answer: the previous settlement goes with
    the next admission (one round trip, not two), and with max_parallel_requests 1 the next request
    finds the slot free (the settlement is applied first)."""
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.01, max_parallel_requests=1)
    gate, sent = counting_gate(harness)
    try:
        for i in range(5):
            adm = await gate.admit(key, f"seq{i}", REQ, started=True)
            # the servicer settles after the answer, in the background; the client asks again at once
            asyncio.ensure_future(gate.settle(adm, usage=USAGE, route=None, success=True, cost_micros=100))
            await asyncio.sleep(0)
        assert len(sent["ReserveBatch"]) == 5 and not sent["SettleBatch"]
        assert [len(r.settles) for r in sent["ReserveBatch"]] == [0, 1, 1, 1, 1]
        # the last one has no admission to ride on: it goes alone after the linger
        for _ in range(300):
            await asyncio.sleep(0.01)
            if gate.pending == 0 and sent["SettleBatch"]:
                break
        assert gate.pending == 0 and len(sent["SettleBatch"]) == 1
        assert await key_spend(harness, key) == 500
    finally:
        await gate.close()


async def test_linger_counts_from_each_settlement_not_from_the_first(harness):
    """A steady client whose requests come well within the linger, for longer than the linger: every
    settlement still rides on the next admission. (Counting the linger from the first settlement
    queued would send a lone SettleBatch once per linger period, whatever arrived just before.)"""
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.01)
    gate, sent = counting_gate(harness, linger=0.3)
    try:
        for i in range(14):  # 14 requests 0.05 s apart: 0.65 s, two lingers long
            adm = await gate.admit(key, f"steady{i}", REQ, started=True)
            asyncio.ensure_future(gate.settle(adm, usage=USAGE, route=None, success=True, cost_micros=100))
            await asyncio.sleep(0.05)
        assert not sent["SettleBatch"], "a settlement went alone although the next admission came in time"
        assert [len(r.settles) for r in sent["ReserveBatch"]] == [0] + [1] * 13
        for _ in range(200):  # the last one goes alone, once its own linger is over
            await asyncio.sleep(0.01)
            if gate.pending == 0:
                break
        assert gate.pending == 0 and len(sent["SettleBatch"]) == 1
        assert await key_spend(harness, key) == 1400
    finally:
        await gate.close()


async def test_settlements_still_applied_by_a_budget_service_that_ignores_carried_ones(harness):
    """An older budget_service drops the unknown `settles` field: the router notices (no outcomes
    for them), sends those settlements again on their own and stops carrying them."""
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.01)
    gate, sent = counting_gate(harness)
    carrying = gate.reserve_rpc
    carried: list[int] = []

    def old_service(req, **kw):
        carried.append(len(req.settles))
        return carrying(budget_pb2.ReserveBatchRequest(items=req.items), **kw)  # settles lost on the way

    gate.reserve_rpc = old_service
    try:
        a = await gate.admit(key, "old-a", REQ, started=True)
        settling = asyncio.ensure_future(gate.settle(a, usage=USAGE, route=None, success=True, cost_micros=700))
        await asyncio.sleep(0)
        await gate.admit(key, "old-b", REQ, started=True)
        assert carried == [0, 1]  # carried, and dropped by the old service
        await asyncio.wait_for(settling, 5)
        assert gate._carry_settles is False and len(sent["SettleBatch"]) == 1
        assert await key_spend(harness, key) == 700
    finally:
        await gate.close()


async def test_settlements_riding_on_a_failed_batch_are_sent_again(harness):
    stub = harness.stub()
    key = await new_key(stub, max_budget=0.01)
    gate, sent = counting_gate(harness)
    counted = gate.reserve_rpc
    fail = {"n": 1}

    async def flaky(req, **kw):
        if req.settles and fail["n"]:
            fail["n"] -= 1
            await asyncio.sleep(0.01)
            raise GatewayError(ErrorKind.UNAVAILABLE, "budget service is unreachable")
        return await counted(req, **kw)

    gate.reserve_rpc = flaky
    try:
        a = await gate.admit(key, "f-a", REQ, started=True)
        settling = asyncio.ensure_future(gate.settle(a, usage=USAGE, route=None, success=True, cost_micros=900))
        await asyncio.sleep(0)
        with pytest.raises(GatewayError):
            await gate.admit(key, "f-b", REQ, started=True)  # its batch (carrying f-a's settlement) failed
        await asyncio.wait_for(settling, 5)  # retried until applied
        assert await key_spend(harness, key) == 900
    finally:
        await gate.close()


def test_settle_linger_setting():
    from router_service.budget_client import SETTLE_LINGER_ENV, settle_linger

    assert settle_linger({}) == 0.020  # one router: it sees every next request of its clients
    assert settle_linger({SETTLE_LINGER_ENV: "3"}) == 0.003  # what the CLI sets for --num_workers > 1
    assert settle_linger({SETTLE_LINGER_ENV: "0"}) == 0.0
    assert settle_linger({SETTLE_LINGER_ENV: "-1"}) == settle_linger({SETTLE_LINGER_ENV: "x"}) == 0.020
