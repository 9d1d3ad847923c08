"""Router behaviour end to end: the official openai client through the running gateway (3 processes)
against the strict fake Gemini. Load balancing, retries, cooldowns, fallbacks, mock-testing switches,
streams and timeouts.

Each deployment of a group has its own upstream model name (== its model_info.id), so the fake's
request log (`fake.requests[i]["model"]`) tells which deployment was called, and failures can be
scripted per deployment. Two gateways: `gw` configures fallbacks/num_retries in litellm_settings,
`gw_rs` in router_settings (with conflicting litellm_settings, to prove router_settings wins).
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import grpc
import openai
import pytest
from google.protobuf import struct_pb2

from gemgate.v1 import router_pb2, router_pb2_grpc
from tests.e2e.conftest import TEST_KEY
from tests.e2e.gateway import avoid_minute_boundary, start_gateway, write_config

ERR_500 = {"status": 500, "body": {"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}}
ERR_503 = {"status": 503, "body": {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}}
ERR_429 = {"status": 429, "body": {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                                             "status": "RESOURCE_EXHAUSTED"}}}
ERR_429_RETRY_1S = {"status": 429, "body": {"error": {
    "code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED",
    "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]}}}
ERR_CONTEXT = {"status": 400, "body": {"error": {
    "code": 400, "status": "INVALID_ARGUMENT",
    "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."}}}

COOLDOWN = 2.0


def _dep(base_url: str, group: str, name: str, **params) -> dict:
    return {"model_name": group,
            "litellm_params": {"model": f"gemini/{name}", "api_key": "os.environ/FAKE_GEMINI_KEY",
                               "api_base": f"{base_url}/v1beta", **params},
            "model_info": {"id": name}}


def litellm_config(base: str) -> dict:
    d = lambda group, name, **p: _dep(base, group, name, **p)  # noqa: E731
    return {
        "model_list": [
            d("weighted", "w-light", weight=1), d("weighted", "w-heavy", weight=3),
            d("rpmw", "r-light", rpm=1000), d("rpmw", "r-heavy", rpm=3000),
            d("r500", "r500-a"), d("r500", "r500-b"),
            d("r503", "r503-a"), d("r503", "r503-b"),
            d("r429", "r429-a"), d("r429", "r429-b"),
            d("ra1", "ra1-only"), d("ra2", "ra2-a"), d("ra2", "ra2-b"),
            d("cool", "cool-a"), d("cool", "cool-b"),
            d("cool2", "cool2-a"), d("cool2", "cool2-b"), d("cool3", "cool3-a"), d("cool3", "cool3-b"),
            d("fb-src", "fbsrc"), d("fb-dst", "fbdst"),
            d("ctx-src", "ctxsrc"), d("ctx-dst", "ctxdst"),
            d("cp-src", "cpsrc"), d("cp-dst", "cpdst"),
            d("def-src", "defsrc"), d("def-dst", "defdst"),
            d("req-dst", "reqdst"),
            d("pair", "pair-a"), d("pair", "pair-b"),
            d("canned", "canned-x", mock_response="canned reply"),
            d("mockcfg", "mockcfg-x", mock_testing_fallbacks=True),
            d("mockrl", "mockrl-a", mock_testing_rate_limit_error=True),
            d("mockrl", "mockrl-b", mock_testing_rate_limit_error=True),
            d("sp", "sp-a"), d("sp", "sp-b"), d("sfb", "sfb-x"),
            d("sq", "sq-a"), d("sq", "sq-b"),
            d("slow", "slow-a", timeout=0.5), d("slow", "slow-b", timeout=0.5),
            d("nr", "nr-only"),
            d("lim", "lim-a", rpm=2), d("lim", "lim-b", rpm=2),
            d("mocknc", "mocknc-a"), d("mocknc", "mocknc-b"),
        ],
        "litellm_settings": {
            "num_retries": 1,
            # groups expected to fail get an explicit empty entry so default_fallbacks cannot mask it
            "fallbacks": [{"fb-src": ["fb-dst"]}, {"ctx-src": ["fb-dst"]}, {"cp-src": ["fb-dst"]},
                          {"mockcfg": ["fb-dst"]}, {"cool3": ["fb-dst"]}, {"sp": ["sfb"]}, {"sq": ["sfb"]},
                          {"cool": []}, {"cool2": []}, {"nr": []}, {"pair": []}, {"r500": []},
                          {"lim": []}, {"mocknc": []}],
            "context_window_fallbacks": [{"ctx-src": ["ctx-dst"]}],
            "content_policy_fallbacks": [{"cp-src": ["cp-dst"]}],
            "default_fallbacks": ["def-dst"],
        },
        "router_settings": {"allowed_fails": 1, "cooldown_time": COOLDOWN},
    }


def router_settings_config(base: str) -> dict:
    d = lambda group, name, **p: _dep(base, group, name, **p)  # noqa: E731
    return {
        "model_list": [
            d("rfb-src", "rfbsrc"), d("rfb-dst", "rfbdst"), d("wrong", "wrong-x"),
            d("rctx-src", "rctxsrc"), d("rctx-dst", "rctxdst"),
            d("rcp-src", "rcpsrc"), d("rcp-dst", "rcpdst"),
            d("rdef-src", "rdefsrc"), d("rdef-dst", "rdefdst"),
            d("rnr", "rnr-only"),
            d("rslow", "rslow-only"),
        ],
        # litellm_settings point everywhere at `wrong`: router_settings must win
        "litellm_settings": {
            "num_retries": 0,
            "fallbacks": [{"rfb-src": ["wrong"]}, {"rctx-src": ["wrong"]}, {"rcp-src": ["wrong"]}],
            "context_window_fallbacks": [{"rctx-src": ["wrong"]}],
            "content_policy_fallbacks": [{"rcp-src": ["wrong"]}],
            "default_fallbacks": ["wrong"],
        },
        "router_settings": {
            "num_retries": 2,
            "timeout": 1.0,
            "allowed_fails": 1000,
            "fallbacks": [{"rfb-src": ["rfb-dst"]}, {"rnr": []}, {"rslow": []}],
            "context_window_fallbacks": [{"rctx-src": ["rctx-dst"]}],
            "content_policy_fallbacks": [{"rcp-src": ["rcp-dst"]}],
            "default_fallbacks": ["rdef-dst"],
        },
    }


def _start(tmp_path_factory, name: str, config: dict):
    tmp = tmp_path_factory.mktemp(name)
    return start_gateway(write_config(tmp, config), tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    gw = _start(tmp_path_factory, "routing-ls", litellm_config(fake_gemini_server.base_url))
    yield gw
    assert gw.stop() == 0, gw.log()


@pytest.fixture(scope="module")
def gw_rs(fake_gemini_server, tmp_path_factory):
    gw = _start(tmp_path_factory, "routing-rs", router_settings_config(fake_gemini_server.base_url))
    yield gw
    assert gw.stop() == 0, gw.log()


def _client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="anything", max_retries=0, timeout=30)


@pytest.fixture
def client(gw):
    return _client(gw)


@pytest.fixture
def client_rs(gw_rs):
    return _client(gw_rs)


def chat(client: openai.OpenAI, model: str, text: str = "hi", **extra):
    """One chat completion; returns (raw response with headers, parsed completion)."""
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], extra_body=extra or None)
    return raw, raw.parse()


def stream(client: openai.OpenAI, model: str, text: str = "hi", **extra):
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], stream=True, extra_body=extra or None)
    return raw, raw.parse()


def models(fake) -> list[str]:
    return [r["model"] for r in fake.requests]


def first_pick_on(fake, upstream: str, scripts: list[dict], call):
    """Repeat `call()` (fresh fake each time) until the router's first pick is `upstream`, which is
    scripted with `scripts`; returns call()'s result. The pick is random among a group's deployments."""
    for _ in range(40):
        fake.reset()
        fake.enqueue(upstream, *scripts)
        result = call()
        if fake.requests and fake.requests[0]["model"] == upstream:
            return result
    pytest.fail(f"the router never picked {upstream} first in 40 requests")


# --------------------------------------------------------------------------- 1. load balancing

@pytest.mark.parametrize("group, light, heavy", [("weighted", "w-light", "w-heavy"), ("rpmw", "r-light", "r-heavy")])
def test_weighted_distribution(client, fake_gemini, group, light, heavy):
    n = 200
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: chat(client, group, f"n{i}")[0].headers["x-gemgate-model-id"], range(n)))
    seen = Counter(models(fake_gemini))
    assert set(seen) == {light, heavy} and sum(seen.values()) == n
    assert Counter(ids) == seen  # the header names the deployment that answered
    assert 0.6 <= seen[heavy] / n <= 0.9, seen


# --------------------------------------------------------------------------- 2. retries

@pytest.mark.parametrize("group, error", [("r500", ERR_500), ("r503", ERR_503), ("r429", ERR_429)])
def test_retry_goes_to_the_other_deployment(client, fake_gemini, group, error):
    raw, resp = first_pick_on(fake_gemini, f"{group}-a", [error], lambda: chat(client, group, "retry me"))
    assert resp.choices[0].message.content == "echo: retry me"
    assert models(fake_gemini) == [f"{group}-a", f"{group}-b"]
    assert raw.headers["x-gemgate-attempts"] == "2"
    assert raw.headers["x-gemgate-model-id"] == f"{group}-b"
    assert raw.headers["x-gemgate-model-group"] == group
    assert "x-gemgate-fallback" not in raw.headers


def test_retry_after_is_honoured_on_a_lone_deployment(client, fake_gemini):
    fake_gemini.enqueue("ra1-only", ERR_429_RETRY_1S)
    start = time.monotonic()
    raw, resp = chat(client, "ra1", "wait for it")
    elapsed = time.monotonic() - start
    assert resp.choices[0].message.content == "echo: wait for it"
    assert models(fake_gemini) == ["ra1-only", "ra1-only"]
    assert raw.headers["x-gemgate-attempts"] == "2"
    assert 0.95 <= elapsed < 5, elapsed


def test_retry_after_does_not_delay_a_retry_on_another_deployment(client, fake_gemini):
    # RetryInfo is about the deployment that sent it (it is cooled down for that long); a healthy
    # sibling answers at once, as in LiteLLM
    slow_down = {"status": 429, "body": {"error": {**ERR_429_RETRY_1S["body"]["error"], "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "5s"}]}}}

    def call():
        start = time.monotonic()
        raw, resp = chat(client, "ra2", "hurry")
        return raw, resp, time.monotonic() - start

    raw, resp, elapsed = first_pick_on(fake_gemini, "ra2-a", [slow_down], call)
    assert resp.choices[0].message.content == "echo: hurry"
    assert models(fake_gemini) == ["ra2-a", "ra2-b"]
    assert raw.headers["x-gemgate-attempts"] == "2"
    assert elapsed < 2.0, elapsed


# --------------------------------------------------------------------------- 3. cooldowns

def test_cooldown_skips_a_failing_deployment_then_recovers(client, fake_gemini):
    avoid_minute_boundary(4)
    fake_gemini.enqueue("cool-a", ERR_500, ERR_500)  # allowed_fails 1: the 2nd failure cools cool-a
    for _ in range(40):
        cooling_from = time.monotonic()  # the cooldown starts during this request
        raw, resp = chat(client, "cool", "c")
        cooled_at = time.monotonic()
        assert resp.choices[0].message.content == "echo: c"  # the retry on cool-b answers
        if models(fake_gemini).count("cool-a") == 2:
            break
    else:
        pytest.fail("cool-a was never picked twice")
    assert raw.headers["x-gemgate-attempts"] == "2" and raw.headers["x-gemgate-model-id"] == "cool-b"

    fake_gemini.reset()
    for i in range(12):  # each would pick cool-a with p=1/2 if it were not cooling down
        raw, _ = chat(client, "cool", f"cooled {i}")
        assert raw.headers["x-gemgate-model-id"] == "cool-b"
        assert raw.headers["x-gemgate-attempts"] == "1"
    assert time.monotonic() - cooling_from < COOLDOWN, "the check ran past the cooldown; it proves nothing"
    assert set(models(fake_gemini)) == {"cool-b"}

    time.sleep(max(0.0, cooled_at + COOLDOWN + 0.2 - time.monotonic()))
    fake_gemini.reset()
    for i in range(40):
        raw, resp = chat(client, "cool", f"back {i}")
        if raw.headers["x-gemgate-model-id"] == "cool-a":
            break
    else:
        pytest.fail("cool-a was not used again after its cooldown")
    assert resp.choices[0].message.content == f"echo: back {i}"
    assert raw.headers["x-gemgate-attempts"] == "1"
    assert "cool-a" in models(fake_gemini)


def test_all_deployments_cooling_down_is_429_naming_the_group(client, fake_gemini):
    fake_gemini.enqueue("cool2-a", *[ERR_500] * 6)
    fake_gemini.enqueue("cool2-b", *[ERR_500] * 6)
    for _ in range(30):
        before = len(fake_gemini.requests)
        try:
            chat(client, "cool2", num_retries=0)
        except openai.RateLimitError as exc:
            err = exc
            break
        except openai.InternalServerError:
            assert len(fake_gemini.requests) == before + 1  # num_retries 0: one upstream call each
            continue
    else:
        pytest.fail("cool2 never cooled down")
    assert len(fake_gemini.requests) == before  # nothing was sent upstream
    assert "cool2" in err.message and "cooling down" in err.message
    assert err.body["type"] == "rate_limit_error"
    assert 1 <= int(err.response.headers["retry-after"]) <= COOLDOWN
    seen = Counter(models(fake_gemini))
    assert seen["cool2-a"] >= 2 and seen["cool2-b"] >= 2


def test_rpm_limits_skip_full_deployments_then_429(client, fake_gemini):
    avoid_minute_boundary(5)  # rpm counts per wall-clock minute
    ids = [chat(client, "lim", f"l{i}")[0].headers["x-gemgate-model-id"] for i in range(4)]
    assert Counter(ids) == {"lim-a": 2, "lim-b": 2}  # rpm 2 each: the full one is skipped
    with pytest.raises(openai.RateLimitError) as exc:
        chat(client, "lim")
    assert "lim" in exc.value.message and "rpm/tpm" in exc.value.message
    assert Counter(models(fake_gemini)) == {"lim-a": 2, "lim-b": 2}


def test_mock_errors_do_not_count_toward_cooldowns(client, fake_gemini):
    avoid_minute_boundary(5)
    for _ in range(3):  # allowed_fails 1: real failures would have cooled a deployment by now
        raw, _ = chat(client, "mocknc", mock_testing_rate_limit_error=True)
        assert raw.headers["x-gemgate-attempts"] == "2"
        with pytest.raises(openai.InternalServerError):
            chat(client, "mocknc", mock_testing_fallbacks=True)
    fake_gemini.reset()
    ids = {chat(client, "mocknc", f"m{i}")[0].headers["x-gemgate-model-id"] for i in range(16)}
    assert ids == {"mocknc-a", "mocknc-b"}


def test_all_deployments_cooling_down_falls_back(client, fake_gemini):
    fake_gemini.enqueue("cool3-a", *[ERR_500] * 6)
    fake_gemini.enqueue("cool3-b", *[ERR_500] * 6)
    for _ in range(30):
        before = len(fake_gemini.requests)
        raw, resp = chat(client, "cool3", "cf", num_retries=0)
        assert raw.headers["x-gemgate-fallback"] == "fb-dst"  # every failure falls back
        if models(fake_gemini)[before:] == ["fbdst"]:
            break  # cool3 was skipped entirely: both its deployments are cooling down
    else:
        pytest.fail("cool3 never cooled down")
    assert resp.choices[0].message.content == "echo: cf"
    assert raw.headers["x-gemgate-model-id"] == "fbdst"


# --------------------------------------------------------------------------- 4. fallbacks (config)

def test_litellm_fallbacks_after_retries(client, fake_gemini):
    fake_gemini.enqueue("fbsrc", ERR_500, ERR_500)  # num_retries 1 (litellm_settings): 2 attempts
    raw, resp = chat(client, "fb-src", "fall")
    assert resp.choices[0].message.content == "echo: fall"
    assert models(fake_gemini) == ["fbsrc", "fbsrc", "fbdst"]
    assert raw.headers["x-gemgate-fallback"] == "fb-dst"
    assert raw.headers["x-gemgate-model-id"] == "fbdst"
    assert raw.headers["x-gemgate-attempts"] == "3"


def test_litellm_context_window_fallbacks(client, fake_gemini):
    fake_gemini.enqueue("ctxsrc", ERR_CONTEXT)
    raw, resp = chat(client, "ctx-src", "long")
    assert resp.choices[0].message.content == "echo: long"
    assert models(fake_gemini) == ["ctxsrc", "ctxdst"]  # not retried; context list beats generic fallbacks
    assert raw.headers["x-gemgate-fallback"] == "ctx-dst"
    assert raw.headers["x-gemgate-attempts"] == "2"


def test_litellm_content_policy_fallbacks(client, fake_gemini):
    # Gemini blocks answer 200 with finish_reason content_filter; the policy error kind only comes
    # from the mock switch
    raw, resp = chat(client, "cp-src", "bad", mock_testing_content_policy_fallbacks=True)
    assert resp.choices[0].message.content == "echo: bad"
    assert models(fake_gemini) == ["cpdst"]
    assert raw.headers["x-gemgate-fallback"] == "cp-dst"


def test_litellm_default_fallbacks(client, fake_gemini):
    fake_gemini.enqueue("defsrc", ERR_503, ERR_503)
    raw, resp = chat(client, "def-src", "dflt")
    assert resp.choices[0].message.content == "echo: dflt"
    assert models(fake_gemini) == ["defsrc", "defsrc", "defdst"]
    assert raw.headers["x-gemgate-fallback"] == "def-dst"


def test_per_request_fallbacks_replace_config(client, fake_gemini):
    fake_gemini.enqueue("fbsrc", ERR_500)
    raw, resp = chat(client, "fb-src", "mine", fallbacks=["req-dst"], num_retries=0)
    assert resp.choices[0].message.content == "echo: mine"
    assert models(fake_gemini) == ["fbsrc", "reqdst"]
    assert raw.headers["x-gemgate-fallback"] == "req-dst"
    for r in fake_gemini.requests:  # router-only keys never go upstream
        assert "fallbacks" not in r["body"] and "num_retries" not in r["body"]


def test_router_settings_fallbacks_win(client_rs, fake_gemini):
    fake_gemini.enqueue("rfbsrc", ERR_500)
    raw, resp = chat(client_rs, "rfb-src", "rs", num_retries=0)
    assert resp.choices[0].message.content == "echo: rs"
    assert models(fake_gemini) == ["rfbsrc", "rfbdst"]
    assert raw.headers["x-gemgate-fallback"] == "rfb-dst"


def test_router_settings_context_window_fallbacks(client_rs, fake_gemini):
    fake_gemini.enqueue("rctxsrc", ERR_CONTEXT)
    raw, _ = chat(client_rs, "rctx-src")
    assert models(fake_gemini) == ["rctxsrc", "rctxdst"]
    assert raw.headers["x-gemgate-fallback"] == "rctx-dst"


def test_router_settings_content_policy_and_default_fallbacks(client_rs, fake_gemini):
    raw, _ = chat(client_rs, "rcp-src", mock_testing_content_policy_fallbacks=True)
    assert raw.headers["x-gemgate-fallback"] == "rcp-dst"
    raw, _ = chat(client_rs, "rdef-src", mock_testing_fallbacks=True)
    assert raw.headers["x-gemgate-fallback"] == "rdef-dst"
    assert models(fake_gemini) == ["rcpdst", "rdefdst"]


# --------------------------------------------------------------------------- 5. mock switches

def test_mock_testing_fallbacks_per_request(client, fake_gemini):
    raw, resp = chat(client, "fb-src", "mocked", mock_testing_fallbacks=True)
    assert resp.choices[0].message.content == "echo: mocked"
    assert models(fake_gemini) == ["fbdst"]  # the primary is never called, and not retried
    assert raw.headers["x-gemgate-fallback"] == "fb-dst"
    assert raw.headers["x-gemgate-attempts"] == "2"
    assert "mock_testing_fallbacks" not in fake_gemini.requests[0]["body"]


def test_mock_testing_fallbacks_without_fallbacks_is_500(client, fake_gemini):
    with pytest.raises(openai.InternalServerError) as exc:
        chat(client, "pair", mock_testing_fallbacks=True)
    assert "mock_testing_fallbacks" in exc.value.message
    assert fake_gemini.requests == []


def test_mock_testing_fallbacks_in_config(client, fake_gemini):
    raw, _ = chat(client, "mockcfg", "cfg")
    assert models(fake_gemini) == ["fbdst"]
    assert raw.headers["x-gemgate-fallback"] == "fb-dst"


@pytest.mark.parametrize("group, extra", [("pair", {"mock_testing_rate_limit_error": True}), ("mockrl", {})])
def test_mock_testing_rate_limit_error(client, fake_gemini, group, extra):
    raw, resp = chat(client, group, "rl", **extra)
    assert resp.choices[0].message.content == "echo: rl"
    assert raw.headers["x-gemgate-attempts"] == "2"
    assert "x-gemgate-fallback" not in raw.headers
    assert models(fake_gemini) == [raw.headers["x-gemgate-model-id"]]  # the mocked 429 never went upstream
    assert "mock_testing_rate_limit_error" not in fake_gemini.requests[0]["body"]


def test_mock_testing_rate_limit_error_without_retries_is_429(client, fake_gemini):
    with pytest.raises(openai.RateLimitError) as exc:
        chat(client, "pair", mock_testing_rate_limit_error=True, num_retries=0)
    assert "pair" in exc.value.message
    assert fake_gemini.requests == []


def test_mock_testing_context_fallbacks(client, fake_gemini):
    raw, _ = chat(client, "ctx-src", mock_testing_context_fallbacks=True)
    assert models(fake_gemini) == ["ctxdst"]
    assert raw.headers["x-gemgate-fallback"] == "ctx-dst"


def test_mock_response_unary_and_stream(client, fake_gemini):
    raw, resp = chat(client, "pair", "ignored", mock_response="mocked text")
    assert resp.choices[0].message.content == "mocked text"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.total_tokens > 0
    assert raw.headers["x-gemgate-attempts"] == "1"
    raw, chunks = stream(client, "pair", "ignored", mock_response="streamed mock",
                         stream_options={"include_usage": True})
    chunks = list(chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed mock"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert raw.headers["x-gemgate-model-group"] == "pair"
    assert fake_gemini.requests == []


def test_mock_response_in_config(client, fake_gemini):
    _, resp = chat(client, "canned", "anything")
    assert resp.choices[0].message.content == "canned reply"
    _, chunks = stream(client, "canned", "anything")
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "canned reply"
    _, resp = chat(client, "canned", "anything", mock_response="request wins")
    assert resp.choices[0].message.content == "request wins"
    assert fake_gemini.requests == []


# --------------------------------------------------------------------------- 6. streams

def test_stream_never_switches_after_the_first_chunk(client, fake_gemini):
    events = [{"candidates": [{"content": {"role": "model", "parts": [{"text": "partial "}]}}]},
              {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}]
    for dep in ("sp-a", "sp-b"):  # whichever is picked first fails mid-stream
        fake_gemini.enqueue(dep, {"sse": events})
    raw, chunks = stream(client, "sp", "s")
    got = []
    with pytest.raises(openai.APIError) as exc:
        for c in chunks:
            got.append(c)
    assert "".join(c.choices[0].delta.content or "" for c in got if c.choices) == "partial "
    assert "overloaded" in exc.value.message
    assert raw.headers["x-gemgate-attempts"] == "1"
    time.sleep(0.2)
    assert len(fake_gemini.requests) == 1  # no retry on sp's other deployment, no fallback to sfb
    assert models(fake_gemini)[0] == raw.headers["x-gemgate-model-id"]


def test_stream_fails_over_before_the_first_chunk(client, fake_gemini):
    def call():
        raw, chunks = stream(client, "sq", "over")
        return raw, "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    raw, text = first_pick_on(fake_gemini, "sq-a", [ERR_503], call)
    assert text == "echo: over"
    assert models(fake_gemini) == ["sq-a", "sq-b"]
    assert raw.headers["x-gemgate-attempts"] == "2"
    assert raw.headers["x-gemgate-model-id"] == "sq-b"
    assert "x-gemgate-fallback" not in raw.headers


def test_stream_fallbacks_before_the_first_chunk(client, fake_gemini):
    raw, chunks = stream(client, "fb-src", "sf", mock_testing_fallbacks=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: sf"
    assert raw.headers["x-gemgate-fallback"] == "fb-dst"
    fake_gemini.enqueue("ctxsrc", ERR_CONTEXT)
    raw, chunks = stream(client, "ctx-src", "sc")
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: sc"
    assert raw.headers["x-gemgate-fallback"] == "ctx-dst"
    assert models(fake_gemini) == ["fbdst", "ctxsrc", "ctxdst"]


# --------------------------------------------------------------------------- 7. timeouts

def test_slow_deployment_times_out_and_retries_on_the_other(client, fake_gemini):
    def call():
        start = time.monotonic()
        raw, resp = chat(client, "slow", "quick")
        return raw, resp, time.monotonic() - start

    raw, resp, elapsed = first_pick_on(fake_gemini, "slow-a", [{"delay": 2.0}], call)  # timeout 0.5 (litellm_params)
    assert resp.choices[0].message.content == "echo: quick"
    assert models(fake_gemini) == ["slow-a", "slow-b"]
    assert raw.headers["x-gemgate-attempts"] == "2" and raw.headers["x-gemgate-model-id"] == "slow-b"
    assert elapsed < 1.9, elapsed


def test_slow_stream_times_out_before_the_first_chunk_and_retries(client, fake_gemini):
    def call():
        start = time.monotonic()
        raw, chunks = stream(client, "slow", "sq")
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return raw, text, time.monotonic() - start

    raw, text, elapsed = first_pick_on(fake_gemini, "slow-a", [{"delay": 2.0}], call)
    assert text == "echo: sq"
    assert models(fake_gemini) == ["slow-a", "slow-b"]
    assert raw.headers["x-gemgate-attempts"] == "2"
    assert elapsed < 1.9, elapsed


def test_router_settings_timeout_is_504(client_rs, fake_gemini):
    fake_gemini.enqueue("rslow-only", {"delay": 1.8})
    start = time.monotonic()
    with pytest.raises(openai.APIStatusError) as exc:
        chat(client_rs, "rslow", num_retries=0)
    elapsed = time.monotonic() - start
    assert exc.value.status_code == 504 and exc.value.body["type"] == "timeout_error"
    assert 0.9 <= elapsed < 1.7, elapsed  # router_settings.timeout: 1.0
    assert models(fake_gemini) == ["rslow-only"]


def test_per_request_timeout_wins(client_rs, fake_gemini):
    fake_gemini.enqueue("rslow-only", {"delay": 1.5})
    start = time.monotonic()
    with pytest.raises(openai.APIStatusError) as exc:
        chat(client_rs, "rslow", num_retries=0, timeout=0.3)
    assert exc.value.status_code == 504
    assert time.monotonic() - start < 0.9


# --------------------------------------------------------------------------- 8. num_retries

def test_litellm_settings_num_retries(client, fake_gemini):
    fake_gemini.enqueue("nr-only", *[ERR_500] * 4)
    with pytest.raises(openai.InternalServerError) as exc:
        chat(client, "nr")
    assert models(fake_gemini) == ["nr-only"] * 2  # num_retries 1
    # a failed request still reports how it was routed
    headers = exc.value.response.headers
    assert headers["x-gemgate-attempts"] == "2"
    assert headers["x-gemgate-model-id"] == "nr-only" and headers["x-gemgate-model-group"] == "nr"


def test_router_settings_num_retries_win(client_rs, fake_gemini):
    fake_gemini.enqueue("rnr-only", *[ERR_500] * 5)
    with pytest.raises(openai.InternalServerError):
        chat(client_rs, "rnr")
    assert models(fake_gemini) == ["rnr-only"] * 3  # router_settings 2 beats litellm_settings 0


def test_per_request_num_retries_zero(client, fake_gemini):
    fake_gemini.enqueue("r500-a", ERR_500)
    fake_gemini.enqueue("r500-b", ERR_500)
    with pytest.raises(openai.InternalServerError):
        chat(client, "r500", num_retries=0)
    assert len(fake_gemini.requests) == 1


@pytest.mark.parametrize("extra, param", [({"num_retries": "x"}, "num_retries"), ({"timeout": -1}, "timeout"),
                                          ({"fallbacks": "fb-dst"}, "fallbacks")])
def test_bad_router_keys_are_400(client, fake_gemini, extra, param):
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, "sq", **extra)
    assert exc.value.body["param"] == param and exc.value.body["type"] == "invalid_request_error"
    assert fake_gemini.requests == []


# --------------------------------------------------------------------------- gRPC

def _extra(**kw) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(kw)
    return s


def test_route_facts_in_grpc_metadata(gw, fake_gemini):
    with grpc.insecure_channel(gw.router_address) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        req = router_pb2.ChatCompletionRequest(model="fb-src", messages=[router_pb2.Message(role="user", text="g")],
                                               extra=_extra(mock_testing_fallbacks=True))
        resp, call = stub.ChatCompletion.with_call(req, timeout=10, metadata=gw.internal_metadata)
        assert resp.choices[0].message.text == "echo: g"
        md = dict(call.trailing_metadata())
        assert md["x-gemgate-fallback"] == "fb-dst"
        assert md["x-gemgate-attempts"] == "2"
        assert md["x-gemgate-model-id"] == "fbdst"
        assert md["x-gemgate-model-group"] == "fb-src"

        req = router_pb2.ChatCompletionRequest(model="pair", messages=[router_pb2.Message(role="user", text="g")],
                                               extra=_extra(mock_testing_rate_limit_error=True))
        call = stub.StreamChatCompletion(req, timeout=10, metadata=gw.internal_metadata)
        chunks = list(call)
        assert "".join(c.choices[0].delta.content for c in chunks if c.choices) == "echo: g"
        md = dict(call.initial_metadata())
        assert md["x-gemgate-attempts"] == "2"
        assert md["x-gemgate-model-id"] in ("pair-a", "pair-b")
        fake_gemini.enqueue("nr-only", ERR_500, ERR_500)
        req = router_pb2.ChatCompletionRequest(model="nr", messages=[router_pb2.Message(role="user", text="g")])
        with pytest.raises(grpc.RpcError) as exc:
            stub.ChatCompletion(req, timeout=10, metadata=gw.internal_metadata)
        assert exc.value.code() == grpc.StatusCode.INTERNAL
        md_err = dict(exc.value.trailing_metadata())
        assert md_err["x-gemgate-attempts"] == "2" and md_err["x-gemgate-model-id"] == "nr-only"
        assert md_err["x-gemgate-request-id"]
    assert models(fake_gemini) == ["fbdst", md["x-gemgate-model-id"], "nr-only", "nr-only"]
