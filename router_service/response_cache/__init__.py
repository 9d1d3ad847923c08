"""LiteLLM's response cache (`litellm_settings.cache: true` + `cache_params`), on the router.

    cache = build_cache(config, redis_prefix, environ)      # None when the cache is off
    plan = cache.plan("chat", api_key, request)             # None: this request does not use it
    hit = await plan.lookup()                               # before admission: a hit reserves 0
    ...                                                     # a miss is routed upstream, then
    plan.store(response, route_info)                        # written in the background

CallScope (router_service/call_scope.py) drives it for the unary chat and embeddings RPCs. A hit
still passes the whole admission (key, allowlists, limits) but reserves and costs nothing; it is
recorded with `cache_hit` in the usage record and the spend log. Stores: redis_store.py (Redis,
never fails a request) and memory_store.py (`type: local`).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from router_service.response_cache import controls as ctl
from router_service.router import RouteInfo

MAX_ENTRY_BYTES = 2 * 1024 * 1024  # larger answers are not cached
HIT_HEADER = "x-gemgate-cache-hit"
KEY_HEADER = "x-litellm-cache-key"  # LiteLLM's header on hits


@dataclass
class Hit:
    key: str
    response: dict
    info: RouteInfo

    def headers(self) -> dict[str, str]:
        return {HIT_HEADER: "true", KEY_HEADER: self.key}


class CachePlan:
    """One request's use of the cache: where its answer lives and what its controls allow."""

    def __init__(self, cache: "ResponseCache", call_type: str, key: str, store_key: str, controls: ctl.Controls) -> None:
        self.cache, self.call_type, self.key, self.store_key, self.controls = cache, call_type, key, store_key, controls

    async def lookup(self) -> Hit | None:
        if self.controls.no_cache:
            return None
        raw = await self.cache.store.get(self.store_key)
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            if entry.get("c") != self.call_type or not isinstance(entry.get("r"), dict):
                return None
            age = time.time() - float(entry["t"])
            info = RouteInfo(str(entry["g"]), model_id=str(entry.get("d") or ""), provider=str(entry.get("p") or ""),
                             attempts=0, deployment=self.cache.deployment(str(entry.get("d") or "")))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None  # not an entry this version wrote: a miss
        if self.controls.max_age is not None and age > self.controls.max_age:
            return None
        return Hit(self.key, entry["r"], info)

    def store(self, response: dict, info: RouteInfo | None) -> None:
        """Keep a successful answer (in the background; failures are skipped, never raised)."""
        if self.controls.no_store or info is None:
            return
        entry = {"c": self.call_type, "t": time.time(), "g": info.model_group, "d": info.model_id,
                 "p": info.provider, "r": response}
        try:
            value = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError):
            return
        if len(value) > MAX_ENTRY_BYTES:
            return
        self.cache.spawn(self.cache.store.set(self.store_key, value, self.controls.ttl or self.cache.ttl))


class ResponseCache:
    def __init__(self, store, params, config, prefix: str = "gemgate:") -> None:
        self.store, self.params, self.config = store, params, config
        self.rpcs = params.cached_rpcs()
        self.ttl = params.default_ttl()
        self.prefix = prefix
        self._tasks: set[asyncio.Task] = set()

    def deployment(self, model_id: str):
        for dep in self.config.model_list:
            if dep.model_info.id == model_id:
                return dep
        return None

    def plan(self, call_type: str, api_key: str | None, request: dict) -> CachePlan | None:
        """How this request uses the cache (None: not at all). Raises 400 on malformed `cache` controls."""
        if call_type not in self.rpcs:
            return None
        controls = ctl.parse(request)
        if controls.use_cache is False or (self.params.mode == "default_off" and not controls.use_cache):
            return None
        key = ctl.cache_key(call_type, ctl.scope_of(api_key), request)
        namespace = controls.namespace or self.params.namespace
        store_key = f"{namespace}:{key}" if namespace else f"{self.prefix}cache:{key}"
        return CachePlan(self, call_type, key, store_key, controls)

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5.0)
        await self.store.close()


def build_cache(config, prefix: str, environ: dict[str, str]) -> ResponseCache | None:
    ls = config.litellm_settings
    if not ls.cache:
        return None
    params = ls.cache_params
    if params.type == "local":
        from router_service.response_cache.memory_store import MemoryCacheStore

        store = MemoryCacheStore()
    else:
        from router_service.response_cache import redis_store

        store = redis_store.build(params, config, environ)
    return ResponseCache(store, params, config, prefix)
