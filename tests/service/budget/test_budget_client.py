"""router_service.budget_client against a real BudgetService and Redis."""

from __future__ import annotations

import asyncio
import socket
import time

import grpc
import pytest

from gemgate.config import parse_config
from gemgate.errors import ErrorKind, GatewayError
from gemgate.v1 import budget_pb2
from router_service import cost
from router_service.budget_client import BudgetGate, OpenGate, estimate
from router_service.router import RouteInfo
from tests.service.budget.conftest import MASTER

CONFIG = parse_config({"model_list": [
    {"model_name": "chat", "litellm_params": {"model": "gemini/gemini-2.5-flash"}},
    {"model_name": "chat", "litellm_params": {"model": "gemini/gemini-2.5-pro"}},
]})
REQ = {"model": "chat", "messages": [{"role": "user", "content": "hello " * 100}], "max_tokens": 100}


async def new_key(stub, **spec) -> str:
    return (await stub.GenerateKey(budget_pb2.GenerateKeyRequest(api_key=MASTER, spec=budget_pb2.KeySpec(**spec)))).key


async def spend(stub, key) -> int:
    return round((await stub.KeyInfo(budget_pb2.KeyRef(api_key=MASTER, key=key))).info.spend * 1e6)


def gate_for(h) -> BudgetGate:
    h.stub()
    return BudgetGate("", deadline=2.0, config=CONFIG, channel=h.channels[-1])


async def test_admit_reserves_worst_case_of_group_and_settle_charges_actual(budget):
    stub = budget.stub()
    key = await new_key(stub, max_budget=1.0)
    gate = gate_for(budget)
    adm = await gate.admit(key, "r1", REQ)
    pro, flash = CONFIG.model_list[1], CONFIG.model_list[0]
    prompt = cost.prompt_token_bound(REQ)
    assert adm.reserved_micros == cost.estimate_max_cost_micros(pro, "chat", prompt, 100)
    assert adm.reserved_micros > cost.estimate_max_cost_micros(flash, "chat", prompt, 100)
    usage = {"prompt_tokens": 150, "completion_tokens": 80, "total_tokens": 230}
    route = RouteInfo("chat", deployment=flash)
    await gate.settle(adm, usage=usage, route=route, success=True)
    await gate.settle(adm, usage=usage, route=route, success=True)  # no double charge
    assert await spend(stub, key) == cost.cost_micros("gemini/gemini-2.5-flash", usage, flash)


async def test_failed_request_without_usage_is_free_and_releases(budget):
    stub = budget.stub()
    key = await new_key(stub, max_parallel_requests=1)
    gate = gate_for(budget)
    adm = await gate.admit(key, "r1", REQ)
    with pytest.raises(GatewayError) as ei:
        await gate.admit(key, "r2", REQ)
    assert ei.value.kind is ErrorKind.RATE_LIMIT
    await gate.settle(adm, usage=None, route=None, success=False)
    assert await spend(stub, key) == 0
    await gate.admit(key, "r3", REQ)


async def test_settle_survives_cancellation(budget):
    stub = budget.stub()
    key = await new_key(stub)
    gate = gate_for(budget)
    adm = await gate.admit(key, "r1", REQ)

    async def handler():
        await gate.settle(adm, usage={"prompt_tokens": 10, "completion_tokens": 10}, route=None, success=True)

    task = asyncio.create_task(handler())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(50):
        if await spend(stub, key):
            break
        await asyncio.sleep(0.02)
    assert await spend(stub, key) == cost.cost_micros("chat", {"prompt_tokens": 10, "completion_tokens": 10})


async def test_missing_key_and_open_gate(budget):
    gate = gate_for(budget)
    with pytest.raises(GatewayError) as ei:
        await gate.admit(None, "r", REQ)
    assert ei.value.kind is ErrorKind.AUTHENTICATION
    open_gate = OpenGate()
    adm = await open_gate.admit(None, "r", REQ)
    await open_gate.settle(adm, usage=None, route=None, success=True)


async def test_budget_service_unreachable_fails_closed_fast():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    gate = BudgetGate(f"127.0.0.1:{port}", deadline=0.5)
    try:
        t0 = time.monotonic()
        with pytest.raises(GatewayError) as ei:
            await gate.admit("sk-x", "r", REQ)
        assert ei.value.kind is ErrorKind.UNAVAILABLE and time.monotonic() - t0 < 2
        assert ei.value.code == "budget_service_unreachable" and gate.reserve_rpc is gate._stream
    finally:
        await gate.close()


async def test_settlement_pending_while_budget_service_down_applied_once_when_back(store):
    """budget_service stops between admission and settlement: the router keeps the settlement and
    applies it exactly once when a budget_service answers on that address again."""
    from tests.service.budget.conftest import Clock, start
    h = await start(store, Clock(), dead_router_grace=0.0)
    port = int(h.address.rsplit(":", 1)[1])
    stub = h.stub()
    key = await new_key(stub, max_budget=1.0)
    gate = BudgetGate(h.address, deadline=0.5, config=CONFIG)
    h2 = None
    try:
        adm = await gate.admit(key, "gg-outage", REQ)
        await gate.mark_started(adm)
        await h.server.stop(None)  # budget_service gone
        usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        task = asyncio.create_task(gate.settle(adm, usage=usage, route=None, success=True))
        await asyncio.sleep(1.0)
        assert not task.done() and gate.pending == 1  # held, not dropped
        from budget_service.ledger import Ledger
        from budget_service.servicer import BudgetServicer
        from gemgate.v1 import budget_pb2_grpc
        h2 = grpc.aio.server()
        budget_pb2_grpc.add_BudgetServiceServicer_to_server(BudgetServicer(Ledger(store, MASTER, dead_router_grace=0.0)), h2)
        h2.add_insecure_port(f"127.0.0.1:{port}")
        await h2.start()
        await asyncio.wait_for(task, 10)
        assert gate.pending == 0
        stub2 = budget_pb2_grpc.BudgetServiceStub(grpc.aio.insecure_channel(f"127.0.0.1:{port}"))
        assert await spend(stub2, key) == cost.cost_micros("chat", usage)
        # exactly once: settling again (e.g. a retry) changes nothing
        again = await stub2.Settle(budget_pb2.SettleRequest(request_id="gg-outage", actual_cost_micros=999_999))
        assert not again.applied
        assert await spend(stub2, key) == cost.cost_micros("chat", usage)
    finally:
        await gate.close()
        for ch in h.channels:
            await ch.close()
        if h2 is not None:
            await h2.stop(None)


def test_estimate_embeddings_has_no_output():
    c, t = estimate({"model": "e", "input": ["abc", "def"]}, None)
    assert t == cost.prompt_token_bound({"input": ["abc", "def"]})
    assert c > 0


def test_estimate_multiplies_output_by_n():
    req = {"model": "m", "messages": [], "max_tokens": 100}
    one, t1 = estimate(req, None)
    three, t3 = estimate({**req, "n": 3}, None)
    assert three == one + 2 * cost.estimate_max_cost_micros(None, "m", 0, 100) and t3 == t1 + 200
