"""The router's admissions on one long-lived ReserveStream call (router_service/reserve_stream.py),
against a real BudgetService on a real port and Redis: one stream for many batches, budgets exact,
and every way the stream can end (service restarted, shutting down, no answer, an older service)."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from budget_service.ledger import Ledger
from budget_service.servicer import BudgetServicer
from gemgate.errors import ErrorKind, GatewayError
from gemgate.v1 import budget_pb2, budget_pb2_grpc
from router_service.budget_client import CHANNEL_OPTIONS, BudgetGate
from tests.service.budget.conftest import MASTER, Clock
from tests.service.budget.test_admission import key_spend, new_key
from tests.service.budget.test_batching import CONFIG, REQ, USAGE

STREAM = "/gemgate.v1.BudgetService/ReserveStream"
UNARY = "/gemgate.v1.BudgetService/ReserveBatch"


class Calls(grpc.aio.ServerInterceptor):
    """Counts the calls per method; `hide` answers UNIMPLEMENTED for a method (an older service)."""

    def __init__(self, hide: str | None = None) -> None:
        self.count: dict[str, int] = {}
        self.hide = hide

    async def intercept_service(self, continuation, details):
        self.count[details.method] = self.count.get(details.method, 0) + 1
        if details.method == self.hide:
            return None
        return await continuation(details)


class Service:
    """One budget_service instance over `store`; can be stopped and started again on its port."""

    def __init__(self, store, *, hide: str | None = None, servicer_class=BudgetServicer, port: int = 0) -> None:
        self.store, self.hide, self.servicer_class, self.port = store, hide, servicer_class, port

    async def start(self) -> Service:
        self.calls = Calls(self.hide)
        self.servicer = self.servicer_class(Ledger(self.store, MASTER, clock=Clock(time.time())))
        self.server = grpc.aio.server(interceptors=[self.calls])
        budget_pb2_grpc.add_BudgetServiceServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        await self.server.start()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class Harness:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.channels: list[grpc.aio.Channel] = []
        self.gates: list[BudgetGate] = []

    def stub(self):
        ch = grpc.aio.insecure_channel(self.service.address)
        self.channels.append(ch)
        return budget_pb2_grpc.BudgetServiceStub(ch)

    def gate(self) -> BudgetGate:
        ch = grpc.aio.insecure_channel(self.service.address, options=CHANNEL_OPTIONS)
        self.gates.append(BudgetGate("", deadline=2.0, config=CONFIG, channel=ch))
        return self.gates[-1]

    async def with_key(self, **spec) -> tuple[str, BudgetGate]:
        """A new key with `spec` (max_budget 0.01 USD unless given) and a router's gate."""
        return await new_key(self.stub(), **{"max_budget": 0.01, **spec}), self.gate()


@pytest.fixture
async def make(store):
    made: list[Harness] = []

    async def _make(**kw) -> Harness:
        h = Harness(await Service(store, **kw).start())
        made.append(h)
        return h

    yield _make
    for h in made:
        for gate in h.gates:
            await gate.close()
        for ch in h.channels:
            await ch.close()
        await h.service.server.stop(None)


async def admit_and_settle(gate, key, rid, cost=100):
    adm = await gate.admit(key, rid, REQ, started=True)
    await gate.settle(adm, usage=USAGE, route=None, success=True, cost_micros=cost)
    return adm


async def test_many_batches_ride_one_stream_and_budgets_stay_exact(make):
    h = await make()
    key, gate = await h.with_key()  # 10_000 micro-USD
    other = h.gate()  # a second router (as --num_workers 2)
    for i in range(20):
        await admit_and_settle(gate, key, f"seq{i}")
    assert h.service.calls.count.get(STREAM) == 1 and UNARY not in h.service.calls.count

    async def one(g, rid):
        try:
            return await g._reserve(key, rid, "chat", 1000, 10, extend=False)
        except GatewayError as err:
            return err

    # 8_000 micro-USD left after 20 x 100, 1_000 reserved per admission: never more than 8
    gates = [gate, other] * 20
    results = await asyncio.gather(*(one(g, f"c{i}") for i, g in enumerate(gates)))
    refused = [r for r in results if isinstance(r, GatewayError)]
    assert len(refused) == 32 and all(r.kind is ErrorKind.BUDGET_EXCEEDED for r in refused)
    outs = await asyncio.gather(*(g._settles.submit(budget_pb2.SettleRequest(
        request_id=f"c{i}", actual_cost_micros=1000, success=True)) for i, g in enumerate(gates)))
    assert sum(o.applied for o in outs) == 8
    assert await key_spend(h, key) == 10_000
    assert h.service.calls.count.get(STREAM) == 2 and UNARY not in h.service.calls.count  # one per router


async def test_an_older_budget_service_without_the_stream_gets_unary_calls(make):
    h = await make(hide=STREAM)
    key, gate = await h.with_key()
    for i in range(3):
        await admit_and_settle(gate, key, f"old{i}")
    assert h.service.calls.count.get(STREAM) == 1  # tried once, UNIMPLEMENTED: not again
    assert h.service.calls.count.get(UNARY) == 3 and gate.reserve_rpc == gate.stub.ReserveBatch
    assert await key_spend(h, key) == 300


class Flaky(BudgetServicer):
    """Fails (`fail`: a GatewayError) or stalls (`stall`) the next batch it is sent."""

    fail: GatewayError | None = None
    stall = 0.0  # seconds
    cancelled = 0

    async def _reserve_batch(self, request):
        if self.fail is not None:
            err, self.fail = self.fail, None
            raise err
        if self.stall:
            stall, self.stall = self.stall, 0.0
            try:
                await asyncio.sleep(stall)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return await super()._reserve_batch(request)


async def test_an_error_status_fails_that_batch_and_the_next_goes_on_a_new_stream(make):
    h = await make(servicer_class=Flaky)
    key, gate = await h.with_key()
    await admit_and_settle(gate, key, "e0")
    h.service.servicer.fail = GatewayError(ErrorKind.UNAVAILABLE, "Redis is not reachable", retry_after=1.0)
    with pytest.raises(GatewayError) as ei:
        await gate.admit(key, "e1", REQ, started=True)
    assert ei.value.kind is ErrorKind.UNAVAILABLE and "Redis is not reachable" in ei.value.message
    await admit_and_settle(gate, key, "e2")
    assert h.service.calls.count.get(STREAM) == 2
    assert await key_spend(h, key) == 200


async def test_no_answer_in_time_abandons_the_stream(make):
    h = await make(servicer_class=Flaky)
    key, gate = await h.with_key(max_parallel_requests=1)
    gate.timeout = 0.3
    await admit_and_settle(gate, key, "t0")
    h.service.servicer.stall = 30.0
    t0 = time.monotonic()
    with pytest.raises(GatewayError) as ei:
        await gate.admit(key, "t1", REQ, started=True)
    assert ei.value.kind is ErrorKind.UNAVAILABLE and "in time" in ei.value.message
    assert time.monotonic() - t0 < 2.0
    for _ in range(100):  # the server's handler learns the stream was given up
        if h.service.servicer.cancelled:
            break
        await asyncio.sleep(0.01)
    assert h.service.servicer.cancelled == 1
    await admit_and_settle(gate, key, "t2")  # on a new stream; t1 holds no parallel slot
    assert h.service.calls.count.get(STREAM) == 2
    assert await key_spend(h, key) == 200


async def test_shutdown_ends_idle_streams_at_once_and_answers_nothing_more(make):
    h = await make()
    key, gate = await h.with_key(max_parallel_requests=1)
    await admit_and_settle(gate, key, "s0")  # the router's stream is open, idle
    h.service.servicer.end_streams()  # what budget_service does when a stop begins
    with pytest.raises(GatewayError) as ei:
        await gate.admit(key, "s1", REQ, started=True)
    assert ei.value.kind is ErrorKind.UNAVAILABLE and ei.value.retryable and "shutting down" in ei.value.message
    t0 = time.monotonic()
    await h.service.server.stop(10)
    assert time.monotonic() - t0 < 2.0  # no stream held the 10 s grace period
    # s1 was not handled: its slot is free for a request on another budget_service instance
    h2 = await make()
    await admit_and_settle(h2.gate(), key, "s2")
    assert await key_spend(h2, key) == 200


async def test_a_busy_stream_answers_its_batch_then_ends(make):
    h = await make(servicer_class=Flaky)
    key, gate = await h.with_key()
    await admit_and_settle(gate, key, "b0")
    h.service.servicer.stall = 0.5
    pending = asyncio.ensure_future(gate.admit(key, "b1", REQ, started=True))
    await asyncio.sleep(0.2)  # b1's batch is being handled (stalled) when the stop begins
    h.service.servicer.end_streams()
    t0 = time.monotonic()
    stopping = asyncio.ensure_future(h.service.server.stop(10))
    adm = await pending  # answered, not cut off
    assert adm.reserved_micros > 0
    await stopping
    assert time.monotonic() - t0 < 2.0  # and then the stream ended: no 10 s grace period held
    assert gate._stream._call is None or gate._stream._call.done()


async def test_a_budget_service_restarted_while_the_router_was_idle(make):
    h = await make()
    key, gate = await h.with_key()
    await admit_and_settle(gate, key, "r0")
    for graceful in (True, False):
        if graceful:
            h.service.servicer.end_streams()
            await h.service.server.stop(10)
        else:
            await h.service.server.stop(None)
        await h.service.start()  # the same port, a new process's worth of state
        await asyncio.wait_for(gate.channel.channel_ready(), 5)
        await admit_and_settle(gate, key, f"r-{graceful}")  # the first request after it goes through
        assert h.service.calls.count.get(STREAM) == 1
    assert await key_spend(h, key) == 300
