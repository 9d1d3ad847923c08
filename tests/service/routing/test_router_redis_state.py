"""Two Router replicas sharing Redis agree on cooldowns, usage and in-flight counts."""

import os
import random
import uuid

import pytest
from gemgate.redis_client import Redis

from gemgate.errors import ErrorKind, GatewayError
from router_service.router import Router
from router_service.routing.state import RedisState
from tests.unit.routing.fake_providers import FakeClock, ScriptedProvider, Sleeps, make_config

REQ = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
async def redis_client():
    client = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True)
    await client.ping()  # these tests need the real Redis; CI guarantees one
    prefix = f"test:routing:{uuid.uuid4().hex}"
    yield client, prefix
    keys = [k async for k in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def replica(cfg, client, prefix, clock, scripts=None):
    prov = ScriptedProvider(scripts)
    r = Router(cfg, {"gemini": prov}, redis=client, redis_prefix=prefix, clock=clock, timer=clock,
               sleep=Sleeps(clock), rng=random.Random(7))
    return r, prov


async def test_replicas_share_cooldowns(redis_client):
    client, prefix = redis_client
    clock = FakeClock()
    cfg = make_config({"g": [{"id": "a", "order": 1}, {"id": "b", "order": 2}]},
                      {"allowed_fails": 0, "cooldown_time": 30, "num_retries": 0})
    r1, p1 = replica(cfg, client, prefix, clock, {"a": [ErrorKind.UNAVAILABLE]})
    r2, p2 = replica(cfg, client, prefix, clock)
    assert isinstance(r1.state.primary, RedisState)
    with pytest.raises(GatewayError):
        await r1.chat({"model": "g", **REQ})
    _, info = await r2.chat({"model": "g", **REQ})  # replica 2 sees a's cooldown
    assert info.model_id == "b" and p2.calls["a"] == 0
    clock.t += 31
    _, info = await r2.chat({"model": "g", **REQ})
    assert info.model_id == "a"


async def test_replicas_share_rpm_usage(redis_client):
    client, prefix = redis_client
    clock = FakeClock()
    cfg = make_config({"g": [{"id": "a", "rpm": 2}]})
    r1, _ = replica(cfg, client, prefix, clock)
    r2, _ = replica(cfg, client, prefix, clock)
    await r1.chat({"model": "g", **REQ})
    await r2.chat({"model": "g", **REQ})
    with pytest.raises(GatewayError) as ei:
        await r1.chat({"model": "g", **REQ})
    assert ei.value.kind is ErrorKind.RATE_LIMIT and "`g`" in ei.value.message
    assert (await r2.state.usage(["a"]))["a"] == (2, 20)


async def test_redis_state_inflight_latency_and_stream_release(redis_client):
    client, prefix = redis_client
    clock = FakeClock()
    cfg = make_config({"g": [{"id": "a"}]})
    r1, _ = replica(cfg, client, prefix, clock)
    r2, _ = replica(cfg, client, prefix, clock)
    info, chunks = await r1.stream({"model": "g", **REQ})
    assert (await r2.state.inflight(["a"]))["a"] == 1
    await chunks.aclose()
    assert (await r2.state.inflight(["a"]))["a"] == 0
    await r1.state.record_latency("a", 1.0)
    await r2.state.record_latency("a", 2.0)
    lat = (await r1.state.latencies(["a"]))["a"]
    assert 1.0 < lat < 2.0
