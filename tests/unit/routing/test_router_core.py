import asyncio
import random
from collections import Counter

import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.router import RouteInfo, Router
from router_service.routing.state import LocalState
from tests.unit.routing.fake_providers import FakeClock, ScriptedProvider, Sleeps, make_config

REQ = {"messages": [{"role": "user", "content": "hello"}]}


def mk(groups, scripts=None, rs=None, ls=None, seed=1, clock=None, **pkw):
    clock = clock or FakeClock()
    cfg = make_config(groups, rs, ls)
    prov = ScriptedProvider(scripts, **pkw)
    sleeps = Sleeps(clock)
    r = Router(cfg, {"gemini": prov}, clock=clock, timer=clock, sleep=sleeps, rng=random.Random(seed))
    return r, prov, sleeps, clock


def req(model, **kw):
    return {"model": model, **REQ, **kw}


# ---- strategies ----
async def test_simple_shuffle_weighted_distribution():
    r, prov, *_ = mk({"g": [{"weight": 1}, {"weight": 3}]})
    for _ in range(2000):
        await r.chat(req("g"))
    share = prov.calls["g-1"] / 2000
    assert 0.70 < share < 0.80


async def test_simple_shuffle_rpm_weights_and_uniform():
    r, prov, *_ = mk({"g": [{"rpm": 100000}, {"rpm": 300000}], "u": [{}, {}]})
    for _ in range(1000):
        await r.chat(req("g"))
        await r.chat(req("u"))
    assert 0.68 < prov.calls["g-1"] / 1000 < 0.82
    assert 0.42 < prov.calls["u-0"] / 1000 < 0.58


async def test_least_busy_picks_fewest_inflight():
    r, prov, *_ = mk({"g": [{}, {}]}, rs={"routing_strategy": "least-busy"})
    await r.state.inflight_add("g-0", 3)
    for _ in range(10):
        _, info = await r.chat(req("g"))
        assert info.model_id == "g-1"


async def test_least_busy_concurrent_spreads():
    gate = asyncio.Event()

    async def on_call(dep):
        await gate.wait()

    r, prov, *_ = mk({"g": [{}, {}, {}]}, rs={"routing_strategy": "least-busy"}, on_call=on_call)
    tasks = [asyncio.create_task(r.chat(req("g"))) for _ in range(3)]
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(*tasks)
    assert sorted(prov.calls.values()) == [1, 1, 1]
    assert await r.state.inflight(["g-0", "g-1", "g-2"]) == {"g-0": 0, "g-1": 0, "g-2": 0}


async def test_latency_based_explores_then_prefers_fastest():
    clock = FakeClock()
    lat = {"g-0": 2.0, "g-1": 0.5, "g-2": 1.0}

    async def on_call(dep):
        clock.t += lat[dep.model_info.id]

    r, prov, *_ = mk({"g": [{}, {}, {}]}, rs={"routing_strategy": "latency-based-routing"}, clock=clock,
                     on_call=on_call)
    for _ in range(3):
        await r.chat(req("g"))
    assert set(prov.calls) == {"g-0", "g-1", "g-2"}  # every deployment explored once
    prov.calls.clear()
    for _ in range(20):
        await r.chat(req("g"))
    assert prov.calls == Counter({"g-1": 20})


async def test_latency_based_stream_uses_ttft():
    r, prov, *_ = mk({"g": [{}, {}]}, rs={"routing_strategy": "latency-based-routing"})
    await r.state.record_latency("g-0", 0.1, "ttft")
    await r.state.record_latency("g-1", 0.9, "ttft")
    await r.state.record_latency("g-0", 9.0)
    info, chunks = await r.stream(req("g"))
    assert info.model_id == "g-0"
    async for _ in chunks:
        pass


async def test_usage_based_picks_lowest_usage_relative_to_limit():
    r, prov, *_ = mk({"g": [{"tpm": 1000}, {"tpm": 10000}]}, rs={"routing_strategy": "usage-based-routing-v2"})
    await r.state.add_usage("g-0", tokens=100)  # 10%
    await r.state.add_usage("g-1", tokens=500)  # 5%
    _, info = await r.chat(req("g"))
    assert info.model_id == "g-1"


async def test_usage_based_balances_tokens():
    r, prov, *_ = mk({"g": [{}, {}]}, rs={"routing_strategy": "usage-based-routing"})
    for _ in range(10):
        await r.chat(req("g"))
    assert prov.calls == Counter({"g-0": 5, "g-1": 5})


# ---- order / limits ----
async def test_order_tiers_lower_first_then_higher_when_unavailable():
    r, prov, _, clock = mk({"g": [{"order": 2, "id": "b"}, {"order": 1, "id": "a", "rpm": 2}]})
    for _ in range(2):
        _, info = await r.chat(req("g"))
        assert info.model_id == "a"
    _, info = await r.chat(req("g"))  # a at its rpm limit -> tier 2
    assert info.model_id == "b"
    clock.t += 60  # new minute
    _, info = await r.chat(req("g"))
    assert info.model_id == "a"


async def test_rpm_limit_skips_and_all_at_limit_is_rate_limit():
    r, prov, *_ = mk({"g": [{"rpm": 1}, {"rpm": 1}]})
    await r.chat(req("g"))
    await r.chat(req("g"))
    assert prov.calls == Counter({"g-0": 1, "g-1": 1})
    with pytest.raises(GatewayError) as ei:
        await r.chat(req("g"))
    assert ei.value.kind is ErrorKind.RATE_LIMIT and "`g`" in ei.value.message
    assert ei.value.retry_after is not None


async def test_tpm_limit_skips():
    r, prov, *_ = mk({"g": [{"tpm": 10, "id": "a", "order": 1}, {"id": "b", "order": 2}]}, tokens=10)
    _, info = await r.chat(req("g"))
    assert info.model_id == "a"
    _, info = await r.chat(req("g"))
    assert info.model_id == "b"


# ---- retries ----
async def test_retry_goes_to_different_deployment():
    r, prov, sleeps, _ = mk({"g": [{"id": "a"}, {"id": "b"}]}, scripts={"a": [ErrorKind.UNAVAILABLE],
                                                                       "b": [ErrorKind.UNAVAILABLE]})
    resp, info = await r.chat(req("g"))
    # whichever failed first, the retry went to the other one, which also failed once, then success
    assert info.attempts == 3
    assert prov.calls == Counter({"a": 2, "b": 1}) or prov.calls == Counter({"a": 1, "b": 2})
    assert len(sleeps.calls) == 2


async def test_retries_exhausted_raises_last_error():
    r, prov, sleeps, _ = mk({"g": [{}]}, scripts={"g-0": [ErrorKind.UPSTREAM_ERROR] * 10}, rs={"allowed_fails": 100})
    with pytest.raises(GatewayError) as ei:
        await r.chat(req("g"))
    assert ei.value.kind is ErrorKind.UPSTREAM_ERROR
    assert prov.calls["g-0"] == 3  # default num_retries=2


async def test_failed_request_carries_its_route():
    r, prov, *_ = mk({"g": [{"id": "only"}], "fb": [{"id": "fbdep"}]}, scripts={"only": [ErrorKind.UNAVAILABLE] * 3,
                     "fbdep": [ErrorKind.UPSTREAM_ERROR] * 3}, rs={"allowed_fails": 100, "num_retries": 1},
                     ls={"fallbacks": [{"g": ["fb"]}]})
    with pytest.raises(GatewayError) as ei:
        await r.chat(req("g"))
    route = RouteInfo.of(ei.value)
    assert ei.value.kind is ErrorKind.UPSTREAM_ERROR  # the fallback's error, after g's
    assert (route.model_group, route.model_id, route.attempts, route.fallback_used) == ("g", "fbdep", 4, None)
    with pytest.raises(GatewayError) as ei:
        await r.chat(req("nope"))
    assert RouteInfo.of(ei.value) is None  # never routed


async def test_num_retries_config_and_per_request_override():
    r, prov, *_ = mk({"g": [{}]}, scripts={"g-0": [ErrorKind.UNAVAILABLE] * 10},
                     rs={"num_retries": 4, "allowed_fails": 100})
    with pytest.raises(GatewayError):
        await r.chat(req("g"))
    assert prov.calls["g-0"] == 5
    prov.calls.clear()
    with pytest.raises(GatewayError):
        await r.chat(req("g", num_retries=0))
    assert prov.calls["g-0"] == 1
    assert all("num_retries" not in q for q in prov.requests)


@pytest.mark.parametrize("extra, param", [
    ({"num_retries": "x"}, "num_retries"), ({"num_retries": -1}, "num_retries"), ({"num_retries": 1.5}, "num_retries"),
    ({"num_retries": True}, "num_retries"), ({"timeout": "soon"}, "timeout"), ({"timeout": 0}, "timeout"),
    ({"timeout": -1}, "timeout"), ({"fallbacks": "g2"}, "fallbacks"), ({"fallbacks": ["g2", 5]}, "fallbacks[1]"),
    ({"fallbacks": [{"nope": "g2"}]}, "fallbacks[0]"),
])
async def test_bad_router_keys_are_invalid_requests(extra, param):
    r, prov, *_ = mk({"g": [{}], "g2": [{}]})
    with pytest.raises(GatewayError) as ei:
        await r.chat(req("g", **extra))
    assert ei.value.kind is ErrorKind.INVALID_REQUEST and ei.value.param == param
    assert not prov.calls


async def test_good_router_keys_are_accepted():
    r, prov, *_ = mk({"g": [{}], "g2": [{}]}, scripts={"g-0": [ErrorKind.UNAVAILABLE]})
    _, info = await r.chat(req("g", num_retries=0, timeout=2, fallbacks=[{"model": "g2"}]))
    assert info.fallback_used == "g2"


async def test_retry_after_honoured():
    err = GatewayError(ErrorKind.RATE_LIMIT, "slow down", retry_after=7.0)
    r, prov, sleeps, _ = mk({"g": [{}]}, scripts={"g-0": [err]}, rs={"cooldown_time": 0})
    await r.chat(req("g"))
    assert sleeps.calls and sleeps.calls[0] >= 7.0


async def test_retry_after_not_waited_when_retrying_on_an_untried_sibling():
    err = lambda: GatewayError(ErrorKind.UNAVAILABLE, "overloaded", retry_after=7.0)  # noqa: E731
    r, prov, sleeps, _ = mk({"g": [{"id": "a"}, {"id": "b"}]}, scripts={"a": [err()], "b": [err()]})
    _, info = await r.chat(req("g"))
    assert info.attempts == 3 and sorted(prov.calls.values()) == [1, 2]
    assert sleeps.calls[0] <= 0.5  # the retry went to the healthy sibling: jittered backoff only
    assert sleeps.calls[1] >= 7.0  # both tried: back to a deployment that asked us to wait


async def test_retry_after_is_capped():
    err = GatewayError(ErrorKind.RATE_LIMIT, "slow down", retry_after=10_000)
    r, prov, sleeps, _ = mk({"g": [{}]}, scripts={"g-0": [err]}, rs={"cooldown_time": 0})
    await r.chat(req("g"))  # a lone deployment never cools down: the capped retry reaches it again
    assert sleeps.calls[0] <= 60
    assert prov.calls["g-0"] == 2


async def test_retry_after_cools_a_deployment_that_has_siblings():
    err = GatewayError(ErrorKind.RATE_LIMIT, "slow down", retry_after=10_000)
    r, prov, sleeps, _ = mk({"g": [{}, {}]}, scripts={"g-0": [err, err], "g-1": [err, err]}, rs={"cooldown_time": 0})
    with pytest.raises(GatewayError) as ei:  # both cooled for the full retry_after, not the capped sleep
        await r.chat(req("g"))
    assert all(s <= 60 for s in sleeps.calls)
    assert ei.value.kind is ErrorKind.RATE_LIMIT and "cooling down" in ei.value.message


async def test_lone_deployment_never_cools_down():
    r, prov, sleeps, _ = mk({"g": [{}]}, scripts={"g-0": [ErrorKind.UNAVAILABLE] * 5},
                            rs={"allowed_fails": 0, "cooldown_time": 30, "num_retries": 0})
    for _ in range(5):
        with pytest.raises(GatewayError) as ei:
            await r.chat(req("g"))
        assert ei.value.kind is ErrorKind.UNAVAILABLE
    assert await r.state.cooldowns(["g-0"]) == {}
    await r.chat(req("g"))


@pytest.mark.parametrize("kind", [ErrorKind.INVALID_REQUEST, ErrorKind.AUTHENTICATION, ErrorKind.NOT_FOUND])
async def test_non_retryable_not_retried(kind):
    r, prov, sleeps, _ = mk({"g": [{}, {}]}, scripts={"g-0": [kind], "g-1": [kind]})
    with pytest.raises(GatewayError) as ei:
        await r.chat(req("g"))
    assert ei.value.kind is kind
    assert sum(prov.calls.values()) == 1 and not sleeps.calls


async def test_timeout_per_request_and_slow_provider():
    r, prov, sleeps, _ = mk({"g": [{}]}, scripts={"g-0": [("slow", 1.0)]})
    with pytest.raises(GatewayError) as ei:
        await r.chat(req("g", timeout=0.05, num_retries=0))
    assert ei.value.kind is ErrorKind.UPSTREAM_TIMEOUT
    assert all("timeout" not in q for q in prov.requests)


def test_timeout_precedence():
    cfg = make_config({"g": [{"timeout": 3}, {}]}, {"timeout": 7, "stream_timeout": 9}, {"request_timeout": 11})
    r = Router(cfg, {})
    d0, d1 = cfg.groups()["g"]
    assert r._timeout(d0, False) == 3 and r._timeout(d1, False) == 7
    assert r._timeout(d1, True) == 9 and r._timeout(d0, False, 1.5) == 1.5
    cfg2 = make_config({"g": [{}]}, {}, {"request_timeout": 11})
    assert Router(cfg2, {})._timeout(cfg2.groups()["g"][0], False) == 11


# ---- cooldowns ----
async def test_cooldown_skips_then_recovers():
    r, prov, sleeps, clock = mk({"g": [{"id": "a", "order": 1}, {"id": "b", "order": 2}]},
                                scripts={"a": [ErrorKind.UNAVAILABLE] * 2},
                                rs={"allowed_fails": 1, "cooldown_time": 30, "num_retries": 0})
    with pytest.raises(GatewayError):
        await r.chat(req("g"))
    with pytest.raises(GatewayError):
        await r.chat(req("g"))  # second failure > allowed_fails -> a cools down
    _, info = await r.chat(req("g"))
    assert info.model_id == "b"
    clock.t += 31
    _, info = await r.chat(req("g"))
    assert info.model_id == "a"


async def test_rate_limit_retry_after_cools_down_at_least_that_long():
    err = GatewayError(ErrorKind.RATE_LIMIT, "quota", retry_after=45)
    r, prov, sleeps, clock = mk({"g": [{"id": "a", "order": 1}, {"id": "b", "order": 2}]}, scripts={"a": [err]},
                                rs={"cooldown_time": 5, "num_retries": 0})
    with pytest.raises(GatewayError):
        await r.chat(req("g"))
    cd = await r.state.cooldowns(["a"])
    assert cd["a"] >= clock.t + 45


async def test_client_errors_do_not_count_but_auth_does():
    r, prov, *_ = mk({"g": [{"id": "a", "order": 1}, {"id": "b", "order": 2}]},
                     scripts={"a": [ErrorKind.INVALID_REQUEST] * 3 + [ErrorKind.AUTHENTICATION] * 2},
                     rs={"allowed_fails": 1, "cooldown_time": 10})
    for _ in range(3):
        with pytest.raises(GatewayError):
            await r.chat(req("g"))
    assert await r.state.cooldowns(["a"]) == {}
    for _ in range(2):
        with pytest.raises(GatewayError):
            await r.chat(req("g"))
    assert "a" in await r.state.cooldowns(["a"])


async def test_all_cooled_down_error_names_group_and_end():
    r, prov, sleeps, clock = mk({"g": [{"id": "a"}, {"id": "b"}]},
                                scripts={"a": [ErrorKind.UNAVAILABLE] * 9, "b": [ErrorKind.UNAVAILABLE] * 9},
                                rs={"allowed_fails": 0, "cooldown_time": 20})
    with pytest.raises(GatewayError) as ei:
        await r.chat(req("g"))
    assert ei.value.kind is ErrorKind.RATE_LIMIT
    assert "`g`" in ei.value.message and "cooling down" in ei.value.message
    assert 0 < ei.value.retry_after <= 20


# ---- fallbacks ----
async def test_generic_fallbacks_after_retries():
    r, prov, *_ = mk({"g": [{}], "f": [{}]}, scripts={"g-0": [ErrorKind.UNAVAILABLE] * 9},
                     rs={"fallbacks": [{"g": ["f"]}], "allowed_fails": 100})
    resp, info = await r.chat(req("g"))
    assert info.fallback_used == "f" and info.model_group == "g" and info.model_id == "f-0"
    assert info.attempts == 4 and prov.calls["g-0"] == 3
    assert prov.requests[-1]["model"] == "f"
    h = info.headers()
    assert h["x-gemgate-fallback"] == "f" and h["x-gemgate-attempts"] == "4" and h["x-gemgate-model-id"] == "f-0"


async def test_context_window_fallbacks():
    r, prov, *_ = mk({"g": [{}], "big": [{}], "f": [{}]}, scripts={"g-0": [ErrorKind.CONTEXT_LENGTH_EXCEEDED]},
                     ls={"context_window_fallbacks": [{"g": ["big"]}], "fallbacks": [{"g": ["f"]}]})
    _, info = await r.chat(req("g"))
    assert info.fallback_used == "big" and prov.calls["g-0"] == 1


async def test_content_policy_fallbacks():
    r, prov, *_ = mk({"g": [{}], "lenient": [{}]}, scripts={"g-0": [ErrorKind.CONTENT_POLICY]},
                     rs={"content_policy_fallbacks": [{"g": ["lenient"]}]})
    _, info = await r.chat(req("g"))
    assert info.fallback_used == "lenient"


async def test_default_fallbacks_and_chain():
    r, prov, *_ = mk({"g": [{}], "d1": [{}], "d2": [{}]},
                     scripts={"g-0": [ErrorKind.UNAVAILABLE] * 9, "d1-0": [ErrorKind.UNAVAILABLE] * 9},
                     rs={"default_fallbacks": ["d1", "d2"], "num_retries": 0, "allowed_fails": 100})
    _, info = await r.chat(req("g"))
    assert info.fallback_used == "d2" and info.attempts == 3


async def test_per_request_fallbacks_override():
    r, prov, *_ = mk({"g": [{}], "cfg": [{}], "mine": [{}]}, scripts={"g-0": [ErrorKind.UNAVAILABLE] * 9},
                     rs={"fallbacks": [{"g": ["cfg"]}], "num_retries": 0, "allowed_fails": 100})
    _, info = await r.chat(req("g", fallbacks=["mine"]))
    assert info.fallback_used == "mine"
    assert all("fallbacks" not in q for q in prov.requests)


async def test_invalid_request_does_not_fall_back():
    r, prov, *_ = mk({"g": [{}], "f": [{}]}, scripts={"g-0": [ErrorKind.INVALID_REQUEST]},
                     rs={"fallbacks": [{"g": ["f"]}]})
    with pytest.raises(GatewayError):
        await r.chat(req("g"))
    assert prov.calls["f-0"] == 0


async def test_unknown_model():
    r, *_ = mk({"g": [{}]})
    with pytest.raises(GatewayError) as ei:
        await r.chat(req("nope"))
    assert ei.value.kind is ErrorKind.MODEL_NOT_FOUND


async def test_local_state_minute_rollover_and_cooldown_expiry():
    clock = FakeClock(600.0)
    st = LocalState(clock)
    await st.add_usage("a", requests=2, tokens=50)
    assert (await st.usage(["a"]))["a"] == (2, 50)
    assert await st.record_failure("a") == 1 and await st.record_failure("a") == 2
    await st.set_cooldown("a", clock.t + 5)
    assert await st.cooldowns(["a", "b"]) == {"a": clock.t + 5}
    clock.t += 60
    assert (await st.usage(["a"]))["a"] == (0, 0)
    assert await st.record_failure("a") == 1
    assert await st.cooldowns(["a"]) == {}


# ---- per-deployment max_retries, pre-call checks ----
async def test_deployment_max_retries_caps_retries_unless_request_says_otherwise():
    r, prov, *_ = mk({"g": [{"max_retries": 0}]}, scripts={"g-0": [ErrorKind.UNAVAILABLE] * 3})
    with pytest.raises(GatewayError):
        await r.chat(req("g"))
    assert prov.calls["g-0"] == 1
    prov.calls.clear()
    await r.chat(req("g", num_retries=3))  # two failures left in the script, then success
    assert prov.calls["g-0"] == 3


async def test_pre_call_checks_skip_small_context_deployments_and_fall_back():
    big_prompt = {"messages": [{"role": "user", "content": "x" * 40_000}]}
    r, prov, *_ = mk({"g": [{"id": "small", "model_info": {"max_input_tokens": 1000}}, {"id": "large", "model_info": {"max_input_tokens": 1_000_000}}],
                      "tiny": [{"id": "t", "model_info": {"max_input_tokens": 100}}], "fb": [{"id": "f"}]},
                     rs={"enable_pre_call_checks": True, "context_window_fallbacks": [{"tiny": ["fb"]}]})
    for _ in range(10):
        _, info = await r.chat({"model": "g", **big_prompt})
        assert info.model_id == "large"
    _, info = await r.chat({"model": "tiny", **big_prompt})
    assert info.fallback_used == "fb" and prov.calls.get("t", 0) == 0
    r2, prov2, *_ = mk({"g": [{"id": "small", "model_info": {"max_input_tokens": 1000}}]})
    _, info = await r2.chat({"model": "g", **big_prompt})  # checks off: the deployment is called
    assert info.model_id == "small"


async def test_cooldown_gauge_raised_and_cleared():
    from gemgate import metrics

    r, prov, sleeps, clock = mk({"g": [{"id": "gauge-a", "order": 1}, {"id": "gauge-b", "order": 2}]},
                                scripts={"gauge-a": [ErrorKind.UNAVAILABLE] * 2},
                                rs={"allowed_fails": 1, "cooldown_time": 30, "num_retries": 0})
    for _ in range(2):
        with pytest.raises(GatewayError):
            await r.chat(req("g"))
    assert 'gemgate_deployment_cooldown{deployment="gauge-a"} 1.0' in metrics.render_metrics().decode()
    clock.t += 31
    _, info = await r.chat(req("g"))
    assert info.model_id == "gauge-a"
    assert 'gemgate_deployment_cooldown{deployment="gauge-a"} 0.0' in metrics.render_metrics().decode()
