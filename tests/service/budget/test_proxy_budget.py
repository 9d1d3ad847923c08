"""litellm_settings.max_budget / budget_duration: one proxy-wide budget over every key (master key
included), enforced in the same admission script as key budgets, against the real Redis."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from gemgate.errors import ErrorKind
from gemgate.grpc_errors import from_rpc_error
from tests.service.budget.conftest import MASTER, Clock, start
from tests.service.budget.test_admission import new_key, reserve, settle


async def test_proxy_budget_caps_all_keys_together_and_resets(store):
    clock = Clock()
    h = await start(store, clock, proxy_budget={"max_budget": 1000, "budget_duration": "1d"})
    try:
        stub = h.stub()
        a, b = await new_key(stub, max_budget=1.0), await new_key(stub)
        # concurrent reservations from two keys and the master key never exceed the proxy budget together
        rids = [f"r{i}" for i in range(30)]
        who = [a, b, MASTER]
        results = await asyncio.gather(*(reserve(stub, who[i % 3], rid, 100) for i, rid in enumerate(rids)),
                                       return_exceptions=True)
        ok = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(ok) == 10 and len(refused) == 20
        err = from_rpc_error(refused[0])
        assert err.kind is ErrorKind.BUDGET_EXCEEDED and "the proxy (litellm_settings.max_budget)" in err.message
        assert err.message.startswith("BudgetExceededError:")
        for rid, r in zip(rids, results):
            if not isinstance(r, BaseException):
                await settle(stub, rid, 100)
        with pytest.raises(grpc.aio.AioRpcError):
            await reserve(stub, b, "late", 1)
        clock.now += 86400  # next period: the proxy budget resets
        await reserve(stub, b, "next-day", 100)
    finally:
        for ch in h.channels:
            await ch.close()
        await h.server.stop(None)
