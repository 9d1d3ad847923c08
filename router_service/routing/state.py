"""Router state: in-flight counts, latency EWMA, per-minute usage, failures and cooldowns.

One interface (`RouterState`), two implementations: `LocalState` (per process) and `RedisState`
(shared by every router replica). Both take an injected clock (seconds, wall-clock epoch).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Callable

from gemgate.redis_client import Redis, RedisError

log = logging.getLogger("gemgate.router.state")

Clock = Callable[[], float]
EWMA_ALPHA = 0.3
INFLIGHT_TTL = 3600  # seconds of inactivity after which shared in-flight counts are dropped


def minute(clock: Clock) -> int:
    return int(clock() // 60)


class RouterState(abc.ABC):
    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock

    @abc.abstractmethod
    async def inflight_add(self, dep_id: str, delta: int) -> None: ...
    @abc.abstractmethod
    async def inflight(self, ids: list[str]) -> dict[str, int]: ...
    @abc.abstractmethod
    async def record_latency(self, dep_id: str, seconds: float, kind: str = "latency") -> None: ...
    @abc.abstractmethod
    async def latencies(self, ids: list[str], kind: str = "latency") -> dict[str, float | None]: ...
    @abc.abstractmethod
    async def add_usage(self, dep_id: str, requests: int = 0, tokens: int = 0) -> None: ...
    @abc.abstractmethod
    async def usage(self, ids: list[str]) -> dict[str, tuple[int, int]]:
        """(requests, tokens) in the current minute."""
    @abc.abstractmethod
    async def record_failure(self, dep_id: str) -> int:
        """Count a failure in the current minute; return the count so far."""
    @abc.abstractmethod
    async def set_cooldown(self, dep_id: str, until: float) -> None: ...
    @abc.abstractmethod
    async def cooldowns(self, ids: list[str]) -> dict[str, float]:
        """dep_id -> cooldown end, only for deployments cooling down now."""

    async def aclose(self) -> None:
        return None


class LocalState(RouterState):
    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._inflight: dict[str, int] = {}
        self._lat: dict[tuple[str, str], float] = {}
        self._usage: dict[tuple[str, int], list[int]] = {}
        self._fails: dict[tuple[str, int], int] = {}
        self._cool: dict[str, float] = {}

    async def inflight_add(self, dep_id: str, delta: int) -> None:
        self._inflight[dep_id] = max(0, self._inflight.get(dep_id, 0) + delta)

    async def inflight(self, ids: list[str]) -> dict[str, int]:
        return {i: self._inflight.get(i, 0) for i in ids}

    async def record_latency(self, dep_id: str, seconds: float, kind: str = "latency") -> None:
        old = self._lat.get((dep_id, kind))
        self._lat[(dep_id, kind)] = seconds if old is None else EWMA_ALPHA * seconds + (1 - EWMA_ALPHA) * old

    async def latencies(self, ids: list[str], kind: str = "latency") -> dict[str, float | None]:
        return {i: self._lat.get((i, kind)) for i in ids}

    async def add_usage(self, dep_id: str, requests: int = 0, tokens: int = 0) -> None:
        m = minute(self.clock)
        for key in [k for k in self._usage if k[1] < m]:
            del self._usage[key]
        u = self._usage.setdefault((dep_id, m), [0, 0])
        u[0] += requests
        u[1] += tokens

    async def usage(self, ids: list[str]) -> dict[str, tuple[int, int]]:
        m = minute(self.clock)
        return {i: tuple(self._usage.get((i, m), (0, 0))) for i in ids}  # type: ignore[misc]

    async def record_failure(self, dep_id: str) -> int:
        m = minute(self.clock)
        key = (dep_id, m)
        self._fails[key] = self._fails.get(key, 0) + 1
        return self._fails[key]

    async def set_cooldown(self, dep_id: str, until: float) -> None:
        self._cool[dep_id] = max(until, self._cool.get(dep_id, 0.0))

    async def cooldowns(self, ids: list[str]) -> dict[str, float]:
        now = self.clock()
        return {i: self._cool[i] for i in ids if self._cool.get(i, 0.0) > now}


class RedisState(RouterState):
    """Shared state in Redis. Keys live under `prefix`; per-minute keys expire after 2 minutes."""

    def __init__(self, redis, prefix: str = "gemgate:router", clock: Clock = time.time, owns: bool = False) -> None:
        super().__init__(clock)
        self.r = redis
        self.p = prefix
        self._owns = owns

    async def aclose(self) -> None:
        if self._owns:
            await self.r.aclose()

    async def inflight_add(self, dep_id: str, delta: int) -> None:
        v = await self.r.hincrby(f"{self.p}:inflight", dep_id, delta)
        await self.r.expire(f"{self.p}:inflight", INFLIGHT_TTL)  # a crashed replica's slots age out
        if int(v) < 0:
            await self.r.hset(f"{self.p}:inflight", dep_id, 0)

    async def inflight(self, ids: list[str]) -> dict[str, int]:
        vals = await self.r.hmget(f"{self.p}:inflight", ids) if ids else []
        return {i: max(0, int(v or 0)) for i, v in zip(ids, vals)}

    async def record_latency(self, dep_id: str, seconds: float, kind: str = "latency") -> None:
        key = f"{self.p}:{kind}"
        old = await self.r.hget(key, dep_id)
        new = seconds if old is None else EWMA_ALPHA * seconds + (1 - EWMA_ALPHA) * float(old)
        await self.r.hset(key, dep_id, repr(new))

    async def latencies(self, ids: list[str], kind: str = "latency") -> dict[str, float | None]:
        vals = await self.r.hmget(f"{self.p}:{kind}", ids) if ids else []
        return {i: (float(v) if v is not None else None) for i, v in zip(ids, vals)}

    async def add_usage(self, dep_id: str, requests: int = 0, tokens: int = 0) -> None:
        key = f"{self.p}:usage:{minute(self.clock)}"
        pipe = self.r.pipeline()
        if requests:
            pipe.hincrby(key, f"{dep_id}:rpm", requests)
        if tokens:
            pipe.hincrby(key, f"{dep_id}:tpm", tokens)
        pipe.expire(key, 120)
        await pipe.execute()

    async def usage(self, ids: list[str]) -> dict[str, tuple[int, int]]:
        if not ids:
            return {}
        key = f"{self.p}:usage:{minute(self.clock)}"
        fields = [f"{i}:{k}" for i in ids for k in ("rpm", "tpm")]
        vals = await self.r.hmget(key, fields)
        return {i: (int(vals[2 * n] or 0), int(vals[2 * n + 1] or 0)) for n, i in enumerate(ids)}

    async def record_failure(self, dep_id: str) -> int:
        key = f"{self.p}:fails:{minute(self.clock)}"
        pipe = self.r.pipeline()
        pipe.hincrby(key, dep_id, 1)
        pipe.expire(key, 120)
        n, _ = await pipe.execute()
        return int(n)

    async def set_cooldown(self, dep_id: str, until: float) -> None:
        key = f"{self.p}:cooldown"
        old = await self.r.hget(key, dep_id)
        if old is None or float(old) < until:
            await self.r.hset(key, dep_id, repr(until))
        await self.r.expire(key, max(60, int(until - self.clock()) + 60))

    async def cooldowns(self, ids: list[str]) -> dict[str, float]:
        vals = await self.r.hmget(f"{self.p}:cooldown", ids) if ids else []
        now = self.clock()
        return {i: float(v) for i, v in zip(ids, vals) if v is not None and float(v) > now}


class DegradingState(RouterState):
    """Shared state that never takes routing down with it: every call goes to `primary` (Redis)
    within `timeout`; when Redis fails or is slow the call is answered by the per-process `fallback`
    instead, and Redis is left alone for `retry_after` seconds before it is tried again. Routing
    hints are then per process until Redis is back — requests keep flowing either way."""

    def __init__(self, primary: RouterState, fallback: RouterState, *, timeout: float = 0.25,
                 retry_after: float = 5.0, monotonic: Clock = time.monotonic) -> None:
        super().__init__(primary.clock)
        self.primary, self.fallback = primary, fallback
        self.timeout, self.retry_after, self.monotonic = timeout, retry_after, monotonic
        self.down_until = 0.0

    async def _call(self, name: str, *args, **kwargs):
        if self.monotonic() >= self.down_until:
            try:
                return await asyncio.wait_for(getattr(self.primary, name)(*args, **kwargs), self.timeout)
            except (asyncio.TimeoutError, OSError, ConnectionError) as exc:
                self._mark_down(exc)
            except RedisError as exc:  # an error reply, a busy pool ...
                self._mark_down(exc)
        return await getattr(self.fallback, name)(*args, **kwargs)

    def _mark_down(self, exc: BaseException) -> None:
        if self.monotonic() >= self.down_until:
            log.warning("router state in Redis unavailable (%s); using per-process state for %.0fs",
                        type(exc).__name__, self.retry_after)
        self.down_until = self.monotonic() + self.retry_after

    async def inflight_add(self, dep_id, delta):
        return await self._call("inflight_add", dep_id, delta)

    async def inflight(self, ids):
        return await self._call("inflight", ids)

    async def record_latency(self, dep_id, seconds, kind="latency"):
        return await self._call("record_latency", dep_id, seconds, kind)

    async def latencies(self, ids, kind="latency"):
        return await self._call("latencies", ids, kind)

    async def add_usage(self, dep_id, requests=0, tokens=0):
        return await self._call("add_usage", dep_id, requests, tokens)

    async def usage(self, ids):
        return await self._call("usage", ids)

    async def record_failure(self, dep_id):
        return await self._call("record_failure", dep_id)

    async def set_cooldown(self, dep_id, until):
        return await self._call("set_cooldown", dep_id, until)

    async def cooldowns(self, ids):
        return await self._call("cooldowns", ids)

    async def aclose(self) -> None:
        await self.primary.aclose()


def make_state(config, clock: Clock = time.time, redis=None, prefix: str = "gemgate:router") -> RouterState:
    """Redis-backed when router_settings.redis_url/redis_host is configured (or a client is given)."""
    rs = config.router_settings
    owns = False
    if redis is None and (rs.redis_url or rs.redis_host):
        redis = Redis.from_url(config.redis_url(), decode_responses=True,
                               socket_timeout=1.0, socket_connect_timeout=1.0)
        owns = True
    if redis is not None:
        return DegradingState(RedisState(redis, prefix=prefix, clock=clock, owns=owns), LocalState(clock))
    return LocalState(clock)
