"""budget_service/resp_pack.py: the fast command packing writes exactly the bytes redis-py would."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from budget_service.resp_pack import fast_packing


def pools():
    plain = aioredis.ConnectionPool.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    fast = aioredis.ConnectionPool.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    fast_packing(fast)
    return plain.make_connection(), fast.make_connection()


CASES = [
    ("EVALSHA", "a" * 40, 0, "gemgate:", 1_800_000_000.123456, "req-1", 5000, 0, 15.0, "m", '{"key":"k"}', -3, 0.1),
    ("SET", "k", "ünïcødé ✓ 🎉", "EX", 10),
    ("CONFIG GET", "maxmemory"),
    (b"CLIENT SETNAME", b"x y"),
    ("GET", b"\x00\xff raw bytes"),
    ("SET", "big", "x" * 100_000),
    ("HSET", "h", "f", memoryview(b"view")),
    ("INCRBYFLOAT", "n", 1e-07),
    ("ECHO", ""),
]


@pytest.mark.parametrize("args", CASES, ids=range(len(CASES)))
def test_same_bytes_as_redis_py(args):
    plain, fast = pools()
    assert type(fast).__name__.startswith("FastPack")
    assert b"".join(bytes(p) for p in fast.pack_command(*args)) == \
        b"".join(bytes(p) for p in plain.pack_command(*args))
    assert b"".join(fast.pack_commands([args, args])) == b"".join(plain.pack_commands([args, args]))


def test_unsupported_arguments_fail_as_in_redis_py():
    _, fast = pools()
    for bad in (True, None, object()):
        with pytest.raises(redis.exceptions.DataError):
            fast.pack_command("SET", "k", bad)


def test_connection_kind_chosen_by_the_url_is_kept():
    for url, kind in (("rediss://127.0.0.1:6379/0", aioredis.SSLConnection),
                      ("unix:///tmp/redis.sock", aioredis.UnixDomainSocketConnection)):
        pool = aioredis.ConnectionPool.from_url(url)
        fast_packing(pool)
        fast_packing(pool)  # idempotent
        assert issubclass(pool.connection_class, kind) and pool.connection_class.__mro__[2] is kind


async def test_scripts_run_through_fast_packing_against_real_redis():
    from budget_service.redis_store import RedisStore

    store = RedisStore.from_url("redis://127.0.0.1:6379/0", prefix="gemgate-test-resp-pack:")
    try:
        assert type(await store.r.connection_pool.get_connection()).__name__.startswith("FastPack")
        await store.r.set(store.k("doc"), "ünïcødé ✓")
        assert await store.r.get(store.k("doc")) == "ünïcødé ✓"
        assert await store.r.eval("return {ARGV[1], ARGV[2], ARGV[3]}", 0, 1.5, -7, "é") == ["1.5", "-7", "é"]
    finally:
        await store.delete_prefix()
        await store.close()
