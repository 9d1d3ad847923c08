"""Stored responses in Redis: one JSON value per (owner, response id), expiring after the TTL.

Redis failures become a 503 (`ErrorKind.UNAVAILABLE`); the servicer decides what a failed write means.
"""

from __future__ import annotations

import json

from gemgate.errors import ErrorKind, GatewayError
from router_service.responses.store import DEFAULT_TTL


def _unavailable() -> GatewayError:
    return GatewayError(ErrorKind.UNAVAILABLE, "the response store (Redis) is unavailable", code="response_store_unavailable")


class RedisResponseStore:
    def __init__(self, redis, prefix: str = "gemgate:", ttl: float = DEFAULT_TTL, owns: bool = False) -> None:
        self.r, self.prefix, self.ttl, self.owns = redis, prefix, ttl, owns

    def _key(self, owner: str, response_id: str) -> str:
        return f"{self.prefix}responses:{owner}:{response_id}"

    async def put(self, owner: str, response_id: str, record: dict) -> None:
        raw = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        try:
            await self.r.set(self._key(owner, response_id), raw, ex=max(1, int(self.ttl)))
        except Exception as exc:
            raise _unavailable() from exc

    async def get(self, owner: str, response_id: str) -> dict | None:
        try:
            raw = await self.r.get(self._key(owner, response_id))
        except Exception as exc:
            raise _unavailable() from exc
        return json.loads(raw) if raw is not None else None

    async def delete(self, owner: str, response_id: str) -> bool:
        try:
            return bool(await self.r.delete(self._key(owner, response_id)))
        except Exception as exc:
            raise _unavailable() from exc

    async def close(self) -> None:
        if self.owns:
            await self.r.aclose()


def build_store(config, prefix: str, environ: dict[str, str]):
    """Redis when the gateway has Redis (a master key, or a Redis URL / host configured anywhere),
    else a per-process memory store."""
    from router_service.responses.store import MemoryResponseStore

    gs, rs = config.general_settings, config.router_settings
    if not (gs.master_key or gs.redis_url or rs.redis_url or rs.redis_host or environ.get("REDIS_URL")):
        return MemoryResponseStore()
    from gemgate.redis_client import Redis

    client = Redis.from_url(config.redis_url(environ), decode_responses=True, socket_timeout=2.0,
                            socket_connect_timeout=2.0)
    return RedisResponseStore(client, prefix=prefix, owns=True)
