"""Response stores: Redis (real, shared server, unique prefix) and memory; per-owner isolation,
TTL, and a Redis outage answered as 503 (never a 500 or a hang)."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from gemgate.redis_client import Redis

from gemgate.errors import ErrorKind, GatewayError
from router_service.responses.redis_store import RedisResponseStore
from router_service.responses.store import MemoryResponseStore, owner_of
from tests.fakes.server import free_port

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RECORD = {"response": {"id": "resp_1", "output": []}, "input_items": [{"id": "msg_1", "type": "message"}]}


def test_owner_is_a_hash_of_the_key():
    assert owner_of("sk-abc") != owner_of("sk-abd")
    assert "sk-abc" not in owner_of("sk-abc") and len(owner_of("sk-abc")) == 64
    assert owner_of(None) == owner_of("") == "anonymous"


async def _exercise(store):
    a, b = owner_of("key-a"), owner_of("key-b")
    await store.put(a, "resp_1", RECORD)
    assert await store.get(a, "resp_1") == RECORD
    assert await store.get(b, "resp_1") is None  # another key never sees it
    assert await store.delete(b, "resp_1") is False
    assert await store.get(a, "resp_1") == RECORD
    assert await store.delete(a, "resp_1") is True
    assert await store.get(a, "resp_1") is None


async def test_redis_store_isolation_and_ttl():
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"gemgate-test-{uuid.uuid4().hex[:8]}:"
    store = RedisResponseStore(client, prefix=prefix, ttl=60)
    try:
        await _exercise(store)
        await store.put(owner_of("k"), "resp_2", RECORD)
        ttl = await client.execute_command("TTL", f"{prefix}responses:{owner_of('k')}:resp_2")
        assert 0 < ttl <= 60
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_memory_store_isolation_ttl_and_bound():
    now = [0.0]
    store = MemoryResponseStore(ttl=10, max_entries=3, clock=lambda: now[0])
    await _exercise(store)
    await store.put("o", "r1", RECORD)
    now[0] = 11
    assert await store.get("o", "r1") is None  # expired
    for i in range(5):
        await store.put("o", f"x{i}", RECORD)
    assert await store.get("o", "x0") is None and await store.get("o", "x4") == RECORD


async def test_redis_down_is_unavailable_quickly():
    client = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1, socket_timeout=1)
    store = RedisResponseStore(client, prefix="x:")
    try:
        for op in (store.put("o", "r", RECORD), store.get("o", "r"), store.delete("o", "r")):
            with pytest.raises(GatewayError) as exc:
                await asyncio.wait_for(op, 5)
            assert exc.value.kind is ErrorKind.UNAVAILABLE and exc.value.kind.info.http_status == 503
    finally:
        await client.aclose()
