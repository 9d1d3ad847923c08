"""The response cache on Redis: one JSON value per cache key, expiring after its TTL.

Never fails a request: a Redis error is logged (at most once per outage) and answered as a miss /
a skipped write, and for `RETRY_AFTER` seconds afterwards the cache is not tried at all, so an
outage costs requests at most one short socket timeout."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("gemgate.router.cache")

RETRY_AFTER = 5.0  # seconds the cache is skipped after a Redis error
SOCKET_TIMEOUT = 0.5  # seconds per Redis command (cache_params.socket_timeout overrides)


class RedisCacheStore:
    def __init__(self, redis, owns: bool = False, clock=time.monotonic) -> None:
        self.r, self.owns, self.clock = redis, owns, clock
        self._down_until = 0.0

    def _usable(self) -> bool:
        return self.clock() >= self._down_until

    def _failed(self, what: str, exc: BaseException) -> None:
        if self._down_until == 0.0:
            log.warning("response cache: Redis %s failed (%s); requests go upstream, cache retried in %gs",
                        what, type(exc).__name__, RETRY_AFTER)
        self._down_until = self.clock() + RETRY_AFTER

    def _ok(self) -> None:
        if self._down_until:
            log.info("response cache: Redis reachable again")
        self._down_until = 0.0

    async def get(self, key: str) -> bytes | None:
        if not self._usable():
            return None
        try:
            raw = await self.r.get(key)
        except Exception as exc:  # noqa: BLE001 - any Redis trouble is a miss
            self._failed("read", exc)
            return None
        self._ok()
        return raw

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if not self._usable():
            return
        try:
            await self.r.set(key, value, px=max(1, int(ttl * 1000)))
        except Exception as exc:  # noqa: BLE001 - a write that fails is skipped
            self._failed("write", exc)
            return
        self._ok()

    async def close(self) -> None:
        if self.owns:
            await self.r.aclose()


def redis_url(params, config, environ: dict[str, str]) -> str:
    """cache_params host/port/password (LiteLLM), else REDIS_URL / REDIS_HOST (+ REDIS_PORT,
    REDIS_PASSWORD) as LiteLLM reads them, else the gateway's own Redis."""
    from urllib.parse import quote

    host = params.host or environ.get("REDIS_HOST")
    if host:
        port = params.port or int(environ.get("REDIS_PORT") or 6379)
        password = params.password if params.password is not None else environ.get("REDIS_PASSWORD")
        user = params.username or environ.get("REDIS_USERNAME") or ""
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if password else ""
        scheme = "rediss" if params.ssl or (environ.get("REDIS_SSL") or "").lower() == "true" else "redis"
        return f"{scheme}://{auth}{host}:{port}/0"
    return environ.get("REDIS_URL") or config.redis_url(environ)


def build(params, config, environ: dict[str, str]) -> RedisCacheStore:
    from gemgate.redis_client import Redis

    timeout = params.socket_timeout or SOCKET_TIMEOUT
    client = Redis.from_url(redis_url(params, config, environ), socket_timeout=timeout,
                            socket_connect_timeout=timeout, max_connections=params.max_connections or 64)
    return RedisCacheStore(client, owns=True)
