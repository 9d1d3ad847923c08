"""Fixtures for the system-of-record tests: a fresh PostgreSQL schema per test on the shared server
(PG_URL, default postgresql://postgres@127.0.0.1:5432/test), dropped afterwards; real Redis with a
unique key prefix; a TCP proxy that can cut PostgreSQL away."""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import grpc
import pytest
from gemgate.redis_client import Redis

from budget_service.durable import DurableStore
from budget_service.ledger import Ledger
from budget_service.outbox import Outbox
from budget_service.record.postgres import PostgresRecord
from budget_service.records_servicer import RecordServicer
from budget_service.redis_store import RedisStore
from budget_service.servicer import BudgetServicer
from gemgate.errors import GatewayError
from gemgate.v1 import budget_pb2_grpc, records_pb2_grpc
from tests.service.budget.conftest import MASTER, REDIS_URL, Clock, budget, store  # noqa: F401 (fixtures)

PG_URL = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def run_sql(statement: str) -> None:
    """One statement on PG_URL, outside any event loop (for synchronous fixtures)."""
    async def go():
        c = await asyncpg.connect(PG_URL)
        try:
            await c.execute(statement)
        finally:
            await c.close()

    asyncio.run(go())


class Schema:
    def __init__(self, name: str) -> None:
        self.name = name
        self.settings = {"search_path": name}

    async def conn(self, url: str = PG_URL) -> asyncpg.Connection:
        return await asyncpg.connect(url, server_settings=self.settings)


@pytest.fixture
async def schema():
    name = f"gg_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(PG_URL)
    await admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield Schema(name)
    finally:
        await admin.execute(f"DROP SCHEMA {name} CASCADE")
        await admin.close()


class TcpProxy:
    """Forwards to a server; `cut()` black-holes traffic (connections stay open, bytes vanish)."""

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
        if self.blackhole:
            cw.close()
            return
        ur, uw = await asyncio.open_connection(*self.target)
        self.writers += [cw, uw]
        await asyncio.gather(self._pipe(cr, uw), self._pipe(ur, cw))

    def cut(self) -> None:
        self.blackhole = True

    def restore(self) -> None:
        self.blackhole = False
        for w in self.writers:
            w.close()
        self.writers.clear()

    async def stop(self) -> None:
        self.restore()
        self.server.close()


class Gateway:
    """budget_service's gRPC servers over a DurableStore (Redis + PostgreSQL), in-process."""

    def __init__(self, redis: RedisStore, durable: DurableStore, ledger: Ledger, clock: Clock, server, address: str):
        self.redis, self.durable, self.ledger, self.clock, self.server = redis, durable, ledger, clock, server
        self.address = address
        self.channels: list[grpc.aio.Channel] = []

    def _ch(self) -> grpc.aio.Channel:
        ch = grpc.aio.insecure_channel(self.address)
        self.channels.append(ch)
        return ch

    def stub(self) -> budget_pb2_grpc.BudgetServiceStub:
        return budget_pb2_grpc.BudgetServiceStub(self._ch())

    def records(self) -> records_pb2_grpc.RecordServiceStub:
        return records_pb2_grpc.RecordServiceStub(self._ch())

    async def wipe_redis(self) -> None:
        """Redis restarted empty: this gateway's keys vanish at once (the server is shared, so only
        ours, in one script, like a restart: nothing sees a half-deleted state)."""
        await self.redis.r.eval("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end",
                                0, self.redis.prefix.replace("*", "\\*") + "*")

    async def close(self) -> None:
        """Each step bounded: a teardown that hangs fails naming the step instead of stalling the run."""
        steps = [*((f"channel {i} close", ch.close) for i, ch in enumerate(self.channels)),
                 ("gRPC server stop", lambda: self.server.stop(None)), ("durable store stop", self.durable.stop)]
        for what, step in steps:  # each coroutine made only when its turn comes
            try:
                await asyncio.wait_for(step(), 30)
            except TimeoutError:
                raise AssertionError(f"teardown: {what} did not finish within 30 s") from None


async def start_gateway(schema: Schema, *, pg_url: str = PG_URL, prefix: str | None = None, clock: Clock | None = None,
                        pg_deadline: float = 2.0, lazy: bool = False, **ledger_kw) -> Gateway:
    clock = clock or Clock(__import__("time").time())
    redis = RedisStore(Redis.from_url(REDIS_URL, decode_responses=True),
                       prefix=prefix or f"gemgate-test:{uuid.uuid4().hex}:", deadline=2.0)
    record = await PostgresRecord.open(pg_url, lazy=lazy, deadline=pg_deadline, pool_size=4, server_settings=schema.settings)
    durable = DurableStore(redis, record, outbox=Outbox(redis.r, redis.prefix, record, interval=0.02, max_backoff=0.2),
                           watch_interval=0.2)
    ledger = Ledger(durable, MASTER, clock=clock, **ledger_kw)
    durable.bind(ledger)
    try:
        await durable.start()
    except GatewayError:
        if not lazy:
            raise
        durable.start_tasks()
    server = grpc.aio.server()
    budget_pb2_grpc.add_BudgetServiceServicer_to_server(BudgetServicer(ledger), server)
    records_pb2_grpc.add_RecordServiceServicer_to_server(RecordServicer(ledger, record), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return Gateway(redis, durable, ledger, clock, server, f"127.0.0.1:{port}")


@pytest.fixture
async def gateway(schema):
    gw = await start_gateway(schema)
    try:
        yield gw
    finally:
        await gw.close()
        await asyncio.wait_for(gw.redis.delete_prefix(), 30)
        await asyncio.wait_for(gw.redis.close(), 30)
