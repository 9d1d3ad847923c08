"""gemgate/redis_client.py without a server: command packing (byte for byte what redis-py sends, redis-py
being the reference here) and Redis URL parsing."""

from __future__ import annotations

import pytest
import redis.asyncio as redis_py

from gemgate.redis_client import DataError, parse_url, pack

CASES = [
    ("EVALSHA", "a" * 40, 0, "gemgate:", 1_800_000_000.123456, "req-1", 5000, 0, 15.0, "m", '{"key":"k"}', -3, 0.1),
    ("SET", "k", "ünïcødé ✓ 🎉", "EX", 10),
    ("GET", b"\x00\xff raw bytes"),
    ("SET", "big", "x" * 100_000),
    ("HSET", "h", "f", memoryview(b"view"), "g", bytearray(b"arr")),
    ("INCRBYFLOAT", "n", 1e-07),
    ("ECHO", ""),
    ("SET", "k", "line\r\nbreak", "PX", 2**62),
]


@pytest.mark.parametrize("args", CASES, ids=range(len(CASES)))
def test_same_bytes_as_redis_py(args):
    reference = redis_py.ConnectionPool.from_url("redis://127.0.0.1:6379/0").make_connection()
    assert pack(args) == b"".join(bytes(p) for p in reference.pack_command(*args))


@pytest.mark.parametrize("bad", [True, False, None, object(), {"a": 1}, ["x"]])
def test_arguments_redis_cannot_carry_are_refused(bad):
    with pytest.raises(DataError):
        pack(("SET", "k", bad))


def test_url_forms():
    ep = parse_url("redis://127.0.0.1:6380/2")
    assert (ep.host, ep.port, ep.db, ep.tls, ep.password, ep.username) == ("127.0.0.1", 6380, 2, False, None, None)
    ep = parse_url("rediss://alice:p%40ss%3Aw@cache.example:7000/0")
    assert (ep.host, ep.port, ep.tls, ep.username, ep.password) == ("cache.example", 7000, True, "alice", "p@ss:w")
    ep = parse_url("redis://:secret@h")  # password only (AUTH <password>), default port and database
    assert (ep.username, ep.password, ep.port, ep.db) == (None, "secret", 6379, 0)
    ep = parse_url("unix:///run/redis.sock?db=3&password=pw")
    assert (ep.path, ep.db, ep.password) == ("/run/redis.sock", 3, "pw")
    assert parse_url("redis://h?db=5").db == 5


def test_url_never_shows_the_password():
    ep = parse_url("rediss://alice:hunter2@cache.example:7000/1")
    assert "hunter2" not in repr(ep) and "hunter2" not in ep.describe()


@pytest.mark.parametrize("url, said", [
    ("http://127.0.0.1:6379", "scheme"),
    ("redis://127.0.0.1:6379/x", "database number"),
    ("redis://127.0.0.1:6379/0?ssl_cert_reqs=none", "ssl_cert_reqs"),  # never silently weaker TLS
    ("redis://127.0.0.1:6379/0?socket_timeout=1", "socket_timeout"),
    ("redis://127.0.0.1:99999/0", "invalid Redis URL"),
    ("unix://", "socket path"),
])
def test_bad_urls_are_refused_by_name(url, said):
    with pytest.raises(ValueError, match=said):
        parse_url(url)
