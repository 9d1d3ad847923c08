"""Router state in Redis must never take routing down: a dead or hung Redis degrades to per-process
state within the timeout, and Redis is used again once it answers."""

import asyncio
import socket
import time

from gemgate.redis_client import Redis

from router_service.routing.state import DegradingState, LocalState, RedisState


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


async def test_dead_redis_falls_back_then_recovers():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    dead = Redis.from_url(f"redis://127.0.0.1:{dead_port}/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    mono = Clock()
    st = DegradingState(RedisState(dead, prefix="gemgate-test-degrade"), LocalState(), retry_after=5, monotonic=mono)
    start = time.monotonic()
    await st.set_cooldown("d", 10**12)
    assert await st.cooldowns(["d"]) == {"d": 10**12}  # answered by the local fallback
    assert time.monotonic() - start < 1.0
    assert st.down_until == mono.t + 5
    await dead.aclose()

    live = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    st.primary = RedisState(live, prefix=f"gemgate-test-degrade-{time.time_ns()}")
    assert await st.record_failure("d") == 1  # still in the down window: local
    mono.t += 6
    assert await st.record_failure("d") == 1  # Redis again: its own fresh count
    keys = [k async for k in live.scan_iter(match=f"{st.primary.p}*")]
    assert keys
    await live.delete(*keys)
    await live.aclose()


async def test_hung_redis_times_out_quickly():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never answers
    port = server.sockets[0].getsockname()[1]
    hung = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    st = DegradingState(RedisState(hung, prefix="x"), LocalState(), timeout=0.2)
    start = time.monotonic()
    assert await st.inflight(["a"]) == {"a": 0}
    assert time.monotonic() - start < 1.0
    await hung.aclose()
    server.close()
