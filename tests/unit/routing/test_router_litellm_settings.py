"""Router behaviour for LiteLLM settings: per-deployment request defaults, wildcards and aliases,
max_parallel_requests, retry_policy, allowed_fails_policy, disable_cooldowns, tag filtering."""

import asyncio
import random

import pytest

from gemgate.config import parse_config
from gemgate.errors import ErrorKind, GatewayError
from router_service.router import Router
from tests.unit.routing.fake_providers import FakeClock, ScriptedProvider, Sleeps, make_config

REQ = {"messages": [{"role": "user", "content": "hello"}]}


def mk(groups, scripts=None, rs=None, ls=None, **pkw):
    clock = FakeClock()
    cfg = make_config(groups, rs, ls)
    prov = ScriptedProvider(scripts, **pkw)
    r = Router(cfg, {"gemini": prov}, clock=clock, timer=clock, sleep=Sleeps(clock), rng=random.Random(1))
    return r, prov


def req(model, **kw):
    return {"model": model, **REQ, **kw}


async def test_deployment_defaults_fill_only_what_the_request_leaves_out():
    r, prov = mk({"g": [{"temperature": 0.2, "top_p": 0.5, "max_tokens": 100, "reasoning_effort": "low",
                        "thinking": {"type": "enabled", "budget_tokens": 2048}}]})
    await r.chat(req("g"))
    sent = prov.requests[-1]
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["reasoning_effort"]) == (0.2, 0.5, 100, "low")
    assert "thinking" not in sent  # reasoning_effort already chosen by the deployment default order
    await r.chat(req("g", temperature=1.0, max_completion_tokens=7, thinking={"type": "disabled"}))
    sent = prov.requests[-1]
    assert sent["temperature"] == 1.0 and sent["max_completion_tokens"] == 7 and "max_tokens" not in sent
    assert sent["thinking"] == {"type": "disabled"} and "reasoning_effort" not in sent


async def test_wildcard_deployment_serves_concrete_models_and_alias_routes():
    cfg = parse_config({"model_list": [
        {"model_name": "gemini/*", "litellm_params": {"model": "gemini/*"}},
        {"model_name": "fast", "litellm_params": {"model": "gemini/gemini-2.5-flash-lite"}},
    ], "router_settings": {"model_group_alias": {"gpt-4o-mini": "fast"}}}, environ={})
    prov = ScriptedProvider()
    r = Router(cfg, {"gemini": prov})
    resp, info = await r.chat(req("gemini/gemini-2.0-flash"))
    assert info.deployment.litellm_params.model == "gemini/gemini-2.0-flash"
    assert info.model_id == "gemini/*-0:gemini-2.0-flash"
    _, info = await r.chat(req("gpt-4o-mini"))
    assert info.model_group == "fast" and prov.requests[-1]["model"] == "fast"
    with pytest.raises(GatewayError) as exc:
        await r.chat(req("claude-x"))
    assert exc.value.kind is ErrorKind.MODEL_NOT_FOUND


async def test_max_parallel_requests_never_overshoots():
    active = {"now": 0, "max": 0}

    async def on_call(dep):
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        await asyncio.sleep(0.01)
        active["now"] -= 1

    cfg = make_config({"g": [{}]})
    cfg.general_settings.max_parallel_requests = 2
    prov = ScriptedProvider(on_call=on_call)
    r = Router(cfg, {"gemini": prov}, sleep=lambda s: asyncio.sleep(0))
    results = await asyncio.gather(*(r.chat(req("g", num_retries=0)) for _ in range(6)), return_exceptions=True)
    assert active["max"] <= 2
    refused = [e for e in results if isinstance(e, GatewayError)]
    assert refused and all(e.kind is ErrorKind.RATE_LIMIT for e in refused)
    assert r.parallel.active == {}  # every slot released
    await r.chat(req("g"))  # and usable again


async def test_retry_policy_overrides_per_error_class():
    # AuthenticationError normally is not retried; with the policy it is (on the sibling)
    r, prov = mk({"g": [{}, {}]}, scripts={"g-0": [ErrorKind.AUTHENTICATION], "g-1": [ErrorKind.AUTHENTICATION]},
                 rs={"retry_policy": {"AuthenticationErrorRetries": 2}, "num_retries": 0})
    _, info = await r.chat(req("g"))
    assert info.attempts == 3  # both failed once, the third attempt answers
    r, prov = mk({"g": [{}, {}]}, scripts={"g-0": [ErrorKind.AUTHENTICATION], "g-1": [ErrorKind.AUTHENTICATION]},
                 rs={"num_retries": 5})
    with pytest.raises(GatewayError):  # without the policy: never retried
        await r.chat(req("g"))
    assert sum(prov.calls.values()) == 1
    # RateLimitError normally retried num_retries times; policy 0 -> not retried
    r, prov = mk({"g": [{}, {}]}, scripts={"g-0": [ErrorKind.RATE_LIMIT], "g-1": [ErrorKind.RATE_LIMIT]},
                 rs={"retry_policy": {"RateLimitErrorRetries": 0}, "num_retries": 5})
    with pytest.raises(GatewayError) as exc:
        await r.chat(req("g"))
    assert exc.value.kind is ErrorKind.RATE_LIMIT and sum(prov.calls.values()) == 1


async def test_allowed_fails_policy_and_disable_cooldowns():
    r, prov = mk({"g": [{}, {}]}, scripts={"g-0": [ErrorKind.UPSTREAM_ERROR] * 3},
                 rs={"allowed_fails_policy": {"InternalServerErrorAllowedFails": 0}, "num_retries": 0})
    with pytest.raises(GatewayError):
        for _ in range(4):
            await r.chat(req("g"))
    assert "g-0" in await r.state.cooldowns(["g-0", "g-1"])  # one failure > 0 allowed -> cooled
    r, prov = mk({"g": [{}, {}]}, scripts={"g-0": [ErrorKind.UPSTREAM_ERROR] * 10},
                 rs={"disable_cooldowns": True, "allowed_fails": 0, "num_retries": 0})
    for _ in range(10):
        try:
            await r.chat(req("g"))
        except GatewayError:
            pass
    assert await r.state.cooldowns(["g-0", "g-1"]) == {}


async def test_tag_filtering():
    r, prov = mk({"g": [{"tags": ["free"]}, {"tags": ["paid"]}, {"tags": ["default"]}]},
                 rs={"enable_tag_filtering": True})
    for _ in range(5):
        _, info = await r.chat(req("g", tags=["paid"]))
        assert info.model_id == "g-1"
        _, info = await r.chat(req("g", metadata={"tags": ["free"]}))
        assert info.model_id == "g-0"
        _, info = await r.chat(req("g"))
        assert info.model_id == "g-2"
    with pytest.raises(GatewayError) as exc:
        r2, _ = mk({"g": [{"tags": ["a"]}]}, rs={"enable_tag_filtering": True})
        await r2.chat(req("g", tags=["b"]))
    assert exc.value.kind is ErrorKind.INVALID_REQUEST and exc.value.param == "tags"
