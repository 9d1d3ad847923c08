import random

import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.router import Router
from tests.unit.routing.fake_providers import FakeClock, ScriptedProvider, Sleeps, make_config

REQ = {"messages": [{"role": "user", "content": "hello"}]}


def mk(groups, scripts=None, rs=None, ls=None):
    clock = FakeClock()
    prov = ScriptedProvider(scripts)
    r = Router(make_config(groups, rs, ls), {"gemini": prov}, clock=clock, timer=clock, sleep=Sleeps(clock),
               rng=random.Random(3))
    return r, prov


def req(model, **kw):
    return {"model": model, **REQ, **kw}


# ---- streaming ----
async def test_stream_first_chunk_fetched_and_failover_before_first_chunk():
    r, prov = mk({"g": [{"id": "a", "order": 1}, {"id": "b", "order": 2}]}, scripts={"a": [ErrorKind.UNAVAILABLE]},
                 rs={"allowed_fails": 0})
    info, chunks = await r.stream(req("g"))
    assert info.model_id == "b" and info.attempts == 2
    got = [c async for c in chunks]
    assert got[0]["dep"] == "b" and got[-1]["usage"]["total_tokens"] == 5
    assert await r.state.inflight(["a", "b"]) == {"a": 0, "b": 0}
    assert (await r.state.usage(["b"]))["b"] == (1, 5)


async def test_stream_never_switches_after_first_chunk():
    r, prov = mk({"g": [{"id": "a"}, {"id": "b"}]}, scripts={"a": [("chunk_then", ErrorKind.UNAVAILABLE)],
                                                             "b": [("chunk_then", ErrorKind.UNAVAILABLE)]})
    info, chunks = await r.stream(req("g"))
    first = await chunks.__anext__()
    with pytest.raises(GatewayError) as ei:
        await chunks.__anext__()
    assert ei.value.kind is ErrorKind.UNAVAILABLE
    assert sum(prov.calls.values()) == 1 and info.attempts == 1 and first["dep"] == info.model_id
    assert (await r.state.inflight([info.model_id]))[info.model_id] == 0


async def test_stream_aclose_releases_inflight():
    r, prov = mk({"g": [{"id": "a"}]})
    info, chunks = await r.stream(req("g"))
    assert (await r.state.inflight(["a"]))["a"] == 1
    await chunks.aclose()
    assert (await r.state.inflight(["a"]))["a"] == 0
    await chunks.aclose()  # idempotent
    assert (await r.state.inflight(["a"]))["a"] == 0


async def test_stream_aclose_after_partial_read_closes_upstream():
    r, prov = mk({"g": [{"id": "a"}]})
    info, chunks = await r.stream(req("g"))
    await chunks.__anext__()
    await chunks.__anext__()
    await chunks.aclose()
    assert (await r.state.inflight(["a"]))["a"] == 0
    assert prov.closed == 1


async def test_stream_fallback_before_first_chunk():
    r, prov = mk({"g": [{}], "f": [{}]}, scripts={"g-0": [ErrorKind.UNAVAILABLE] * 5},
                 rs={"fallbacks": [{"g": ["f"]}], "num_retries": 1, "allowed_fails": 100})
    info, chunks = await r.stream(req("g"))
    assert info.fallback_used == "f" and info.attempts == 3
    assert [c async for c in chunks][0]["dep"] == "f-0"


# ---- mock switches ----
async def test_mock_response_unary():
    r, prov = mk({"g": [{}]})
    resp, info = await r.chat(req("g", mock_response="canned"))
    assert resp["object"] == "chat.completion"
    assert resp["choices"][0]["message"]["content"] == "canned"
    assert resp["usage"]["total_tokens"] > 0
    assert sum(prov.calls.values()) == 0


async def test_mock_response_stream_and_deployment_level():
    r, prov = mk({"g": [{"mock_response": "from config"}]})
    info, chunks = await r.stream(req("g"))
    got = [c async for c in chunks]
    assert got[0]["object"] == "chat.completion.chunk"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in got if c["choices"]) == "from config"
    assert got[-1]["choices"] == [] and got[-1]["usage"]["total_tokens"] > 0
    assert sum(prov.calls.values()) == 0


async def test_mock_testing_fallbacks():
    r, prov = mk({"g": [{}], "f": [{}]}, rs={"fallbacks": [{"g": ["f"]}]})
    resp, info = await r.chat(req("g", mock_testing_fallbacks=True))
    assert info.fallback_used == "f" and prov.calls["g-0"] == 0 and prov.calls["f-0"] == 1
    assert all(k not in prov.requests[-1] for k in ("mock_testing_fallbacks", "mock_response"))
    assert await r.state.cooldowns(["g-0"]) == {}


async def test_mock_testing_fallbacks_without_fallback_config_errors():
    r, prov = mk({"g": [{}]})
    with pytest.raises(GatewayError) as ei:
        await r.chat(req("g", mock_testing_fallbacks=True))
    assert ei.value.retryable and type(ei.value) is GatewayError


async def test_mock_testing_rate_limit_error_first_attempt_only():
    r, prov = mk({"g": [{"id": "a"}, {"id": "b"}]})
    resp, info = await r.chat(req("g", mock_testing_rate_limit_error=True))
    assert info.attempts == 2 and sum(prov.calls.values()) == 1


async def test_mock_testing_rate_limit_error_from_deployment_params():
    r, prov = mk({"g": [{"id": "a", "mock_testing_rate_limit_error": True}]})
    resp, info = await r.chat(req("g"))
    assert info.attempts == 2 and prov.calls["a"] == 1


async def test_mock_testing_context_fallbacks():
    r, prov = mk({"g": [{}], "big": [{}]}, rs={"context_window_fallbacks": [{"g": ["big"]}]})
    _, info = await r.chat(req("g", mock_testing_context_fallbacks=True))
    assert info.fallback_used == "big"


async def test_mock_testing_content_policy_fallbacks():
    r, prov = mk({"g": [{}], "ok": [{}]}, rs={"content_policy_fallbacks": [{"g": ["ok"]}]})
    info, chunks = await r.stream(req("g", mock_testing_content_policy_fallbacks=True))
    assert info.fallback_used == "ok"
    await chunks.aclose()


async def test_embed_routes_and_retries():
    from router_service.providers.base import Provider

    class Emb(Provider):
        def __init__(self):
            self.n = 0

        async def chat(self, deployment, request, *, timeout):  # pragma: no cover
            raise AssertionError

        def stream(self, deployment, request, *, timeout):  # pragma: no cover
            raise AssertionError

        async def embed(self, deployment, request, *, timeout):
            self.n += 1
            if self.n == 1:
                raise GatewayError(ErrorKind.UNAVAILABLE, "busy")
            return {"object": "list", "data": [], "usage": {"prompt_tokens": 3, "total_tokens": 3}}

    clock = FakeClock()
    r = Router(make_config({"e": [{}, {}]}), {"gemini": Emb()}, clock=clock, timer=clock, sleep=Sleeps(clock))
    resp, info = await r.embed({"model": "e", "input": "x"})
    assert resp["object"] == "list" and info.attempts == 2


def test_make_state_picks_redis_when_configured():
    from router_service.routing.state import DegradingState, LocalState, RedisState, make_state

    assert isinstance(make_state(make_config({"g": [{}]})), LocalState)
    st = make_state(make_config({"g": [{}]}, {"redis_host": "127.0.0.1"}))
    assert isinstance(st, DegradingState) and isinstance(st.primary, RedisState)
