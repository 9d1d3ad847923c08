"""The response cache's pure parts: per-request controls, the key, plans and the stores."""

from __future__ import annotations

import asyncio

import pytest

from gemgate.config import parse_config
from gemgate.errors import GatewayError
from router_service.response_cache import ResponseCache, controls
from router_service.response_cache.memory_store import MemoryCacheStore
from router_service.response_cache.redis_store import RedisCacheStore, redis_url
from router_service.router import RouteInfo

REQ = {"model": "flash", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.9}


def test_controls_parse_litellm_names():
    c = controls.parse({"cache": {"no-cache": True, "no-store": False, "ttl": 5, "s-maxage": 2, "namespace": "ns"}})
    assert (c.no_cache, c.no_store, c.ttl, c.max_age, c.namespace) == (True, False, 5.0, 2.0, "ns")
    assert controls.parse({"cache": {"s-max-age": 3}}).max_age == 3.0
    assert controls.parse({}) == controls.Controls()
    for bad, param in (({"ttl": "5"}, "cache.ttl"), ({"ttl": -1}, "cache.ttl"), ({"no-cache": "yes"}, "cache.no-cache"),
                       ({"namespace": ""}, "cache.namespace"), ({"namespace": "a\nb"}, "cache.namespace"),
                       ({"nocache": True}, "cache.nocache"), ({"s-maxage": float("inf")}, "cache.s-maxage")):
        with pytest.raises(GatewayError) as exc:
            controls.parse({"cache": bad})
        assert exc.value.param == param and exc.value.kind.info.http_status == 400
    with pytest.raises(GatewayError):
        controls.parse({"cache": "no-cache"})


def test_key_is_exact_and_scoped():
    k = controls.cache_key("chat", controls.scope_of("sk-a"), REQ)
    assert len(k) == 64
    # controls and metadata are not content; everything else is
    assert k == controls.cache_key("chat", controls.scope_of("sk-a"), {**REQ, "cache": {"ttl": 1}, "metadata": {"x": 1}})
    assert k != controls.cache_key("chat", controls.scope_of("sk-b"), REQ)
    assert k != controls.cache_key("embeddings", controls.scope_of("sk-a"), REQ)
    assert k != controls.cache_key("chat", controls.scope_of("sk-a"), {**REQ, "temperature": 1.0})
    assert "sk-a" not in controls.scope_of("sk-a")


def _cache(params: dict) -> ResponseCache:
    cfg = parse_config({"model_list": [{"model_name": "flash", "litellm_params": {"model": "gemini/gemini-2.5-flash"}}],
                        "litellm_settings": {"cache": True, "cache_params": params}})
    return ResponseCache(MemoryCacheStore(), cfg.litellm_settings.cache_params, cfg)


def test_plans_follow_mode_and_call_types():
    on = _cache({"type": "local"})
    assert on.plan("chat", "sk-a", REQ) is not None and on.plan("embeddings", "sk-a", REQ) is not None
    assert on.plan("chat", "sk-a", {**REQ, "cache": {"use-cache": False}}) is None
    off = _cache({"type": "local", "mode": "default_off"})
    assert off.plan("chat", "sk-a", REQ) is None
    assert off.plan("chat", "sk-a", {**REQ, "cache": {"use-cache": True}}) is not None
    chat_only = _cache({"type": "local", "supported_call_types": ["acompletion"]})
    assert chat_only.plan("embeddings", "sk-a", REQ) is None
    ns = on.plan("chat", "sk-a", {**REQ, "cache": {"namespace": "team-x"}})
    assert ns.store_key == f"team-x:{ns.key}"
    assert on.plan("chat", "sk-a", REQ).store_key == f"gemgate:cache:{ns.key}"  # same content, default namespace


def test_store_lookup_no_store_and_max_age():
    async def go():
        cache = _cache({"type": "local", "ttl": 60})
        info = RouteInfo("flash", model_id="flash-0", provider="gemini", attempts=1)
        plan = cache.plan("chat", "sk-a", {**REQ, "cache": {"no-store": True}})
        plan.store({"id": "x", "choices": []}, info)
        await asyncio.sleep(0)
        assert await cache.plan("chat", "sk-a", REQ).lookup() is None
        cache.plan("chat", "sk-a", REQ).store({"id": "x", "choices": []}, info)
        await cache.close()  # drains the background write (memory store is then cleared)
        cache = _cache({"type": "local", "ttl": 60})
        cache.plan("chat", "sk-a", REQ).store({"id": "y", "choices": []}, info)
        await asyncio.sleep(0.01)
        hit = await cache.plan("chat", "sk-a", REQ).lookup()
        assert hit.response == {"id": "y", "choices": []} and hit.info.model_id == "flash-0" and hit.info.attempts == 0
        assert hit.info.deployment is not None and hit.headers() == {"x-gemgate-cache-hit": "true",
                                                                        "x-litellm-cache-key": hit.key}
        assert await cache.plan("chat", "sk-a", {**REQ, "cache": {"no-cache": True}}).lookup() is None
        assert await cache.plan("chat", "sk-b", REQ).lookup() is None  # another key's scope
        await asyncio.sleep(0.05)
        assert await cache.plan("chat", "sk-a", {**REQ, "cache": {"s-maxage": 0.01}}).lookup() is None
        assert await cache.plan("embeddings", "sk-a", REQ).lookup() is None

    asyncio.run(go())


def test_memory_store_expires_and_is_bounded():
    now = [0.0]
    store = MemoryCacheStore(max_entries=2, clock=lambda: now[0])

    async def go():
        await store.set("a", b"1", 10)
        await store.set("b", b"2", 10)
        await store.set("c", b"3", 10)
        assert await store.get("a") is None and await store.get("c") == b"3"
        now[0] = 11
        assert await store.get("c") is None

    asyncio.run(go())


def test_redis_store_never_raises_and_backs_off():
    class Down:
        calls = 0

        async def get(self, key):
            Down.calls += 1
            raise ConnectionError("refused")

        async def set(self, *a, **k):
            Down.calls += 1
            raise ConnectionError("refused")

    now = [100.0]
    store = RedisCacheStore(Down(), clock=lambda: now[0])

    async def go():
        assert await store.get("k") is None
        await store.set("k", b"v", 5)  # skipped while backing off
        assert await store.get("k") is None and Down.calls == 1
        now[0] += 6
        assert await store.get("k") is None and Down.calls == 2

    asyncio.run(go())


def test_redis_url_sources():
    cfg = parse_config({})
    p = parse_config({"litellm_settings": {"cache": True, "cache_params": {"host": "h", "port": 7000, "password": "p w"}}})
    assert redis_url(p.litellm_settings.cache_params, p, {}) == "redis://:p%20w@h:7000/0"
    assert redis_url(cfg.litellm_settings.cache_params, cfg, {"REDIS_HOST": "e", "REDIS_PORT": "1"}) == "redis://e:1/0"
    assert redis_url(cfg.litellm_settings.cache_params, cfg, {"REDIS_URL": "redis://u/2"}) == "redis://u/2"
    assert redis_url(cfg.litellm_settings.cache_params, cfg, {}) == cfg.redis_url({})
