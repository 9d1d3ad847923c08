"""gemgate/redis_client.py against the real Redis on 127.0.0.1:6379 (and proxies in front of it for TLS,
a unix socket and a server that never answers): replies, pipelines, transactions, scripts, and the
promises a money path leans on: a timed-out or cancelled command never leaves its reply for the next
caller, a restarted Redis is survived, a full pool and a wrong password are told apart from an outage."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest

from gemgate.redis_client import (NoScriptError, PoolBusy, Redis, RedisAuthError, RedisConnectionError,
                                  RedisTimeoutError, ResponseError)
from tests.service.budget.test_redis_down import Proxy
from tests.service.upstream_servers import self_signed

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def r():
    client = Redis.from_url(URL, decode_responses=True)
    prefix = f"gemgate-test-rc:{uuid.uuid4().hex}:"
    yield client, prefix
    async for key in client.scan_iter(match=prefix + "*"):
        await client.delete(key)
    await client.aclose()


async def test_commands_and_reply_shapes(r):
    c, p = r
    assert await c.ping() is True
    assert await c.set(p + "s", "ünï ✓", ex=60) is True
    assert await c.set(p + "s", "other", nx=True) is None
    assert await c.get(p + "s") == "ünï ✓" and await c.get(p + "missing") is None
    assert await c.mget([p + "s", p + "missing"]) == ["ünï ✓", None]
    assert await c.exists(p + "s", p + "missing") == 1
    assert await c.set(p + "t", 5, exat=int(time.time()) + 60) is True
    assert await c.incr(p + "t") == 6 and await c.incrby(p + "t", -10) == -4
    assert await c.expire(p + "t", 30) is True and await c.expire(p + "missing", 30) is False
    assert await c.expireat(p + "t", int(time.time()) + 30) is True
    assert await c.sadd(p + "set", "a", "b", "a") == 2 and await c.srem(p + "set", "b") == 1
    assert await c.smembers(p + "set") == {"a"} and await c.smembers(p + "missing") == set()
    assert await c.hset(p + "h", mapping={"a": 1, "b": "x"}) == 2 and await c.hset(p + "h", "c", 1.5) == 1
    assert await c.hget(p + "h", "a") == "1" and await c.hmget(p + "h", ["a", "zz", "c"]) == ["1", None, "1.5"]
    assert await c.hincrby(p + "h", "a", 41) == 42 and await c.hdel(p + "h", "b") == 1
    assert await c.hgetall(p + "h") == {"a": "42", "c": "1.5"} and await c.hgetall(p + "missing") == {}
    sid = await c.xadd(p + "x", {"rid": "r1", "cost": 7})
    await c.xadd(p + "x", {"rid": "r2", "cost": 8})
    got = await c.xrange(p + "x", "-", "+", count=1)
    assert got == [(sid, {"rid": "r1", "cost": "7"})] and await c.xlen(p + "x") == 2
    assert await c.xdel(p + "x", sid) == 1 and await c.xlen(p + "x") == 1
    secs, micros = await c.time()
    assert abs(secs - time.time()) < 5 and 0 <= micros < 1_000_000
    assert await c.delete(p + "s", p + "t", p + "missing") == 2
    assert sorted([k async for k in c.scan_iter(match=p + "*", count=1)]) == [p + "h", p + "set", p + "x"]
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await c.get(p + "h")
    assert await c.ping()  # an error reply leaves the connection usable


async def test_bytes_without_decoding_and_undecodable_text(r):
    c, p = r
    async with Redis.from_url(URL) as raw:
        blob = bytes(range(256))
        assert await raw.set(p + "b", blob) is True and await raw.get(p + "b") == blob
        # a value that is not UTF-8, read by a decoding client: an error for this call, the client goes on
        with pytest.raises(RedisConnectionError, match="unreadable"):
            await c.get(p + "b")
        assert await c.set(p + "ok", "fine") and await c.get(p + "ok") == "fine"


async def test_pipeline_one_round_trip_keeps_each_slot(r):
    c, p = r
    await c.set(p + "str", "v")
    async with c.pipeline(transaction=False) as pipe:
        pipe.set(p + "a", 1).incr(p + "a").hget(p + "str", "f").get(p + "str")
        out = await pipe.execute(raise_on_error=False)
    assert out[:2] == [True, 2] and isinstance(out[2], ResponseError) and out[3] == "v"
    pipe = c.pipeline(transaction=False)
    pipe.hget(p + "str", "f")
    with pytest.raises(ResponseError):
        await pipe.execute()
    assert await c.pipeline().execute() == []


async def test_transaction_is_all_or_nothing(r):
    c, p = r
    async with c.pipeline(transaction=True) as t:
        t.set(p + "a", "1").sadd(p + "ids", "a").incr(p + "ver")
        assert await t.execute() == [True, 1, 1]
    t = c.pipeline(transaction=True)
    t.incr(p + "ver")
    t._cmd(("SET", p + "b"))  # wrong number of arguments: refused when queued, so EXEC aborts everything
    with pytest.raises(ResponseError, match="wrong number of arguments"):
        await t.execute()
    assert await c.get(p + "ver") == "1" and await c.get(p + "b") is None


async def test_scripts_load_themselves_when_redis_forgot_them(r):
    c, p = r
    script = c.register_script("redis.call('INCRBY', KEYS[1], ARGV[1]); return {ARGV[1], ARGV[2], ARGV[3]}")
    await c.execute_command("SCRIPT", "FLUSH")  # as after a Redis restart
    with pytest.raises(ResponseError):  # INCRBY 1.5 is an error reply inside the script
        await script(keys=[p + "n"], args=[1.5, -7, "é"])
    assert await script(keys=[p + "n"], args=[2, -7, "é"]) == ["2", "-7", "é"]
    await c.execute_command("SCRIPT", "FLUSH")
    pipe = c.pipeline(transaction=False)
    pipe.evalsha(script.sha, 1, p + "n", 3, "x", "y")
    (missing,) = await pipe.execute(raise_on_error=False)
    assert isinstance(missing, NoScriptError)
    assert await script(keys=[p + "n"], args=[3, "x", "y"]) == ["3", "x", "y"]
    assert await c.get(p + "n") == "5"


async def test_cancelled_command_never_hands_its_reply_to_the_next(r):
    c, p = r
    async with Redis.from_url(URL, decode_responses=True, max_connections=1) as one:
        await one.set(p + "k", "mine")
        # BLPOP holds the only connection for 0.5 s and then answers nil; the caller gives up first
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(one.execute_command("BLPOP", p + "empty", 0.5), 0.1)
        assert await one.get(p + "k") == "mine"  # not BLPOP's late nil
        await asyncio.sleep(0.6)
        assert await one.get(p + "k") == "mine"


async def test_socket_timeout_bounds_each_command_and_drops_the_connection(r):
    c, p = r
    async with Redis.from_url(URL, decode_responses=True, socket_timeout=0.2, max_connections=1) as slow:
        await slow.set(p + "k", "v")
        t0 = time.monotonic()
        with pytest.raises(RedisTimeoutError, match="did not answer within 0.2s"):
            await slow.execute_command("BLPOP", p + "empty", 1)
        assert time.monotonic() - t0 < 0.6
        assert await slow.get(p + "k") == "v"


async def test_silent_server_times_out():
    async def swallow(reader, writer):
        await reader.read(-1)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=0.2) as hung:
        t0 = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await hung.get("k")
        assert time.monotonic() - t0 < 1.0
        server.close()


async def test_unreachable_is_a_connection_error():
    from gemgate.ports import free_port

    gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1)
    with pytest.raises(RedisConnectionError, match="cannot connect"):
        await gone.ping()


async def test_restarted_redis_is_survived_and_every_stale_socket_dropped(r):
    c, p = r
    async with Redis.from_url(URL, decode_responses=True) as client:
        ids = await asyncio.gather(*(client.execute_command("CLIENT", "ID") for _ in range(4)))
        assert len(set(ids)) == 4  # four pooled connections
        for i in ids:  # what a Redis restart does to them
            await c.execute_command("CLIENT", "KILL", "ID", i)
        await asyncio.sleep(0.05)
        assert await client.ping() is True
        new_ids = await asyncio.gather(*(client.execute_command("CLIENT", "ID") for _ in range(2)))
        assert not set(new_ids) & set(ids)


async def test_without_retry_a_stale_socket_is_an_error(r):
    c, p = r
    async with Redis.from_url(URL, decode_responses=True, retry_on_stale=False) as client:
        cid = await client.execute_command("CLIENT", "ID")
        # killed between our reply and the next command: the socket looks alive until we use it
        await c.execute_command("CLIENT", "KILL", "ID", cid)
        client._idle[0].closed = False  # as if the close had not reached us yet
        with pytest.raises(RedisConnectionError):
            await client.ping()
        assert await client.ping() is True


async def test_full_pool_is_busy_not_down(r):
    c, p = r
    async with Redis.from_url(URL, decode_responses=True, max_connections=1, pool_timeout=0.2) as one:
        hold = asyncio.create_task(one.execute_command("BLPOP", p + "empty", 1))
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        with pytest.raises(PoolBusy):
            await one.get(p + "k")
        assert 0.15 < time.monotonic() - t0 < 0.6
        assert await hold is None
        assert await one.ping() is True


async def test_user_password_and_database(r):
    c, p = r
    user, password = f"gemgate-test-{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex
    await c.execute_command("ACL", "SETUSER", user, "on", ">" + password, "~*", "+@all")
    try:
        ok = Redis.from_url(f"redis://{user}:{password}@127.0.0.1:6379/5", decode_responses=True)
        await ok.set(p + "db5", "here")
        assert await ok.get(p + "db5") == "here" and await c.get(p + "db5") is None  # db 5, not db 0
        await ok.delete(p + "db5")
        await ok.aclose()
        bad = Redis.from_url(f"redis://{user}:wrong-{password}@127.0.0.1:6379/0")
        with pytest.raises(RedisAuthError) as ei:
            await bad.ping()
        assert password not in str(ei.value) and "WRONGPASS" in str(ei.value)
        nodb = Redis.from_url(f"redis://{user}:{password}@127.0.0.1:6379/99999")
        with pytest.raises(RedisAuthError, match="DB index"):
            await nodb.ping()
    finally:
        await c.execute_command("ACL", "DELUSER", user)


def _relay():
    """A byte relay to the real Redis (the TCP proxy of the Redis-outage test, here behind TLS or a unix socket)."""
    return Proxy("127.0.0.1", 6379)._conn


async def test_tls_verifies_the_certificate(tmp_path, r):
    server_ctx, trusting = self_signed(tmp_path)
    server = await asyncio.start_server(_relay(), "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        ok = Redis.from_url(f"rediss://localhost:{port}/0", ssl_context=trusting, socket_timeout=2)
        assert await ok.ping() is True
        await ok.aclose()
        untrusted = Redis.from_url(f"rediss://localhost:{port}/0", socket_timeout=2)  # system trust store
        with pytest.raises(RedisConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusted.ping()
    finally:
        server.close()


async def test_unix_socket(tmp_path, r):
    path = str(tmp_path / "redis.sock")
    server = await asyncio.start_unix_server(_relay(), path)
    try:
        client = Redis.from_url(f"unix://{path}?db=0", decode_responses=True)
        assert await client.ping() is True
        await client.aclose()
    finally:
        server.close()


async def test_closed_client_refuses(r):
    async with Redis.from_url(URL) as client:
        assert await client.ping() is True
    assert not client._idle  # its sockets closed on leaving the block
    with pytest.raises(RedisConnectionError, match="closed"):
        await client.ping()


async def test_pooled_tcp_sockets_keep_alive(r):
    import socket

    c, p = r
    await c.ping()
    sock = c._idle[0]._transport.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
