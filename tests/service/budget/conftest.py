from __future__ import annotations

import os
import uuid

import grpc
import pytest
from gemgate.redis_client import Redis

from budget_service.ledger import Ledger
from budget_service.redis_store import RedisStore
from budget_service.servicer import BudgetServicer
from gemgate.v1 import budget_pb2_grpc

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
MASTER = "sk-master-test-key"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, store: RedisStore, ledger: Ledger, clock: Clock, address: str, server) -> None:
        self.store, self.ledger, self.clock, self.address, self.server = store, ledger, clock, address, server
        self.channels: list[grpc.aio.Channel] = []

    def stub(self) -> budget_pb2_grpc.BudgetServiceStub:
        ch = grpc.aio.insecure_channel(self.address)
        self.channels.append(ch)
        return budget_pb2_grpc.BudgetServiceStub(ch)


async def start(store: RedisStore, clock: Clock, **kw) -> Harness:
    ledger = Ledger(store, MASTER, clock=clock, **kw)
    server = grpc.aio.server()
    budget_pb2_grpc.add_BudgetServiceServicer_to_server(BudgetServicer(ledger), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return Harness(store, ledger, clock, f"127.0.0.1:{port}", server)


@pytest.fixture
async def store():
    prefix = f"gemgate-test:{uuid.uuid4().hex}:"
    s = RedisStore(Redis.from_url(REDIS_URL, decode_responses=True), prefix=prefix, deadline=2.0)
    yield s
    await s.delete_prefix()
    await s.close()


@pytest.fixture
async def budget(store):
    h = await start(store, Clock())
    yield h
    for ch in h.channels:
        await ch.close()
    await h.server.stop(None)


@pytest.fixture
async def harness(store):
    """A BudgetService whose dead-router sweep needs no grace period (lease tests)."""
    h = await start(store, Clock(), dead_router_grace=0.0)
    yield h
    for ch in h.channels:
        await ch.close()
    await h.server.stop(None)
