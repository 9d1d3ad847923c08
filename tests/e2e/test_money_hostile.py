"""Issue 10: money and access against hostile clients, through the real CLI, the official openai
client and the strict fake Gemini (real Redis): duplicate client request ids, allowlist escapes via
fallbacks / mock switches / streams, fallback chains into pricier groups, oversize prompts."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import httpx
import openai
import pytest

from tests.e2e.conftest import TEST_KEY
from tests.e2e.gateway import avoid_minute_boundary, start_gateway, write_config

MASTER = "sk-master-hostile-test-0123456789abcdef"
MSG = [{"role": "user", "content": "hello money"}]


def config(base_url: str) -> dict:
    def dep(name, model, api_base=f"{base_url}/v1beta"):
        return {"model_name": name, "litellm_params": {"model": model, "api_key": "os.environ/FAKE_GEMINI_KEY",
                                                       "api_base": api_base}}
    return {
        "model_list": [
            dep("a", "gemini/gemini-2.5-flash-lite"),            # cheap
            dep("b", "gemini/gemini-2.5-pro"),                   # ~12x pricier
            dep("a-down", "gemini/gemini-2.5-flash-lite", "http://127.0.0.1:9/v1beta"),  # always fails
        ],
        "router_settings": {"num_retries": 0, "allowed_fails": 1000, "fallbacks": [{"a-down": ["b"]}]},
        # the strongest case: virtual keys may send the testing switches too
        "general_settings": {"master_key": MASTER, "dangerously_allow_mock_testing_request_params": True,
                             "budget_deadline": 10},  # a shared, overloaded CI machine: no spurious 503s
    }


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    gateway = start_gateway(write_config(tmp, config(fake_gemini_server.base_url)), tmp,
                            env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def admin(gw, path, body=None, method="POST"):
    r = httpx.request(method, f"{gw.base_url}{path}", json=body, headers={"Authorization": f"Bearer {MASTER}"},
                      timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def new_key(gw, **fields) -> str:
    return admin(gw, "/key/generate", fields)["key"]


def spend_of(gw, key, expected=None, timeout=10.0) -> float:
    deadline = time.monotonic() + timeout
    while True:
        spend = admin(gw, f"/key/info?key={key}", method="GET")["info"]["spend"]
        if expected is None or spend == pytest.approx(expected, abs=1e-6) or time.monotonic() > deadline:
            return spend
        time.sleep(0.05)


def chat(gw, key, body=None, headers=None, **kw):
    body = body or {"model": "a", "messages": MSG, "max_tokens": 10}
    return httpx.post(f"{gw.base_url}/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {key}", **(headers or {})}, timeout=30, **kw)


def upstream_models(fake) -> list[str]:
    return [r["model"] for r in fake.requests]


# ---------------- item 1: the ledger's id is the gateway's ----------------

def test_50_concurrent_requests_sharing_one_client_id_are_each_admitted_limited_and_billed(gw, fake_gemini):
    key = new_key(gw, rpm_limit=30, max_budget=1.0)
    avoid_minute_boundary(25)  # rpm windows are wall-clock minutes

    def one(_):
        return chat(gw, key, headers={"x-request-id": "same-id"})

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    ok = [r for r in results if r.status_code == 200]
    limited = [r for r in results if r.status_code == 429]
    assert len(ok) == 30 and len(limited) == 20, [r.status_code for r in results]
    assert all(r.json()["error"]["type"] == "rate_limit_error" for r in limited)
    assert all(r.headers["x-request-id"] == "same-id" for r in results)  # echoed as a label
    assert len({r.headers["x-gemgate-request-id"] for r in results}) == 50  # 50 ledger ids
    assert len(fake_gemini.requests) == 30
    costs = [float(r.headers["x-gemgate-response-cost"]) for r in ok]
    assert all(c > 0 for c in costs)
    assert spend_of(gw, key, sum(costs)) == pytest.approx(sum(costs), abs=1e-6)  # every one billed


def test_duplicate_ids_do_not_skip_parallel_limit(gw, fake_gemini):
    key = new_key(gw, max_parallel_requests=2, max_budget=1.0)
    for _ in range(6):
        fake_gemini.enqueue("gemini-2.5-flash-lite", {"delay": 0.5})
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        codes = [r.status_code for r in pool.map(lambda _: chat(gw, key, headers={"x-request-id": "dup"}), range(6))]
    assert codes.count(200) == 2 and codes.count(429) == 4, codes


def test_zero_budget_key_reusing_an_in_flight_id_is_refused(gw, fake_gemini):
    rich = new_key(gw, max_budget=1.0)
    broke = new_key(gw, max_budget=0)
    slow = [{"candidates": [{"content": {"role": "model", "parts": [{"text": f"w{i} "}]}}]} for i in range(10)]
    slow.append({"candidates": [{"content": {"role": "model", "parts": [{"text": "end"}]}, "finishReason": "STOP"}],
                 "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 11, "totalTokenCount": 14}})
    fake_gemini.enqueue("gemini-2.5-flash-lite", {"sse": slow, "gap": 0.1})
    body = {"model": "a", "messages": MSG, "max_tokens": 50, "stream": True}
    with httpx.stream("POST", f"{gw.base_url}/v1/chat/completions", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {rich}", "x-request-id": "shared"}) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        next(line for line in lines if "w0" in line)  # rich's request is in flight
        stolen = chat(gw, broke, headers={"x-request-id": "shared"})
        assert stolen.status_code == 429 and stolen.json()["error"]["type"] == "budget_exceeded"
        assert any("[DONE]" in line for line in lines)
    assert len(fake_gemini.requests) == 1  # nothing went upstream for the zero-budget key
    assert spend_of(gw, broke) == 0


# ---------------- item 3: allowlists hold for every group that may serve ----------------

ESCAPES = [
    ("fallbacks alone", {"fallbacks": ["b"]}, False),
    ("fallbacks+mock_testing_fallbacks", {"fallbacks": ["b"], "mock_testing_fallbacks": True}, False),
    ("fallbacks+mock_testing_rate_limit_error", {"fallbacks": ["b"], "mock_testing_rate_limit_error": True}, False),
    ("fallbacks dict form", {"fallbacks": [{"model": "b"}], "mock_testing_fallbacks": True}, False),
    ("stream+fallbacks+mock_testing_fallbacks", {"fallbacks": ["b"], "mock_testing_fallbacks": True}, True),
    ("stream+fallbacks+mock_testing_rate_limit_error", {"fallbacks": ["b"], "mock_testing_rate_limit_error": True}, True),
]


@pytest.mark.parametrize("owner", ["key", "team"])
def test_allowlist_cannot_be_escaped(gw, fake_gemini, owner):
    if owner == "key":
        key = new_key(gw, models=["a"], max_budget=1.0)
    else:
        team = admin(gw, "/team/new", {"models": ["a"]})["team_id"]
        key = new_key(gw, team_id=team, max_budget=1.0)
    client = openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=key, max_retries=0, timeout=30)
    for name, extra, stream in ESCAPES:
        with pytest.raises(openai.PermissionDeniedError) as ei:
            out = client.chat.completions.create(model="a", messages=MSG, max_tokens=10, stream=stream, extra_body=extra)
            if stream:
                list(out)
        assert ei.value.body["code"] == "model_not_allowed", name
        assert "b" in ei.value.message
    assert "gemini-2.5-pro" not in upstream_models(fake_gemini)
    # the direct route stays refused, the allowed one works
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="b", messages=MSG, max_tokens=10)
    assert client.chat.completions.create(model="a", messages=MSG, max_tokens=10).choices[0].message.content
    assert "gemini-2.5-pro" not in upstream_models(fake_gemini)


def test_config_fallbacks_do_not_leave_the_allowlist(gw, fake_gemini):
    """Decision: operator (config) fallbacks are skipped for a key that may not use the fallback
    group; the request fails with the primary group's own error instead."""
    limited = new_key(gw, models=["a-down"], max_budget=1.0)
    r = chat(gw, limited, {"model": "a-down", "messages": MSG, "max_tokens": 10})
    assert r.status_code in (502, 503), r.text
    assert "gemini-2.5-pro" not in upstream_models(fake_gemini)
    # a key allowed both groups gets the operator's fallback
    both = new_key(gw, models=["a-down", "b"], max_budget=1.0)
    r = chat(gw, both, {"model": "a-down", "messages": MSG, "max_tokens": 10})
    assert r.status_code == 200 and r.headers["x-gemgate-fallback"] == "b"


# ---------------- item 2: zero overspend whatever the client sends ----------------

WORDS = " ".join(["a"] * 3000)  # more tokens than an average bytes/token estimate would say
HOSTILE = [
    ("oversize one-letter prompt", {"model": "a", "messages": [{"role": "user", "content": WORDS}], "max_tokens": 5}),
    ("per-request fallback into pricier b", {"model": "a", "messages": MSG, "max_tokens": 60, "fallbacks": ["b"],
                                             "mock_testing_fallbacks": True}),
    ("config fallback into pricier b", {"model": "a-down", "messages": MSG, "max_tokens": 60}),
    ("n=4", {"model": "a", "messages": [{"role": "user", "content": "count " * 40}], "max_tokens": 40, "n": 4}),
    ("stream via fallback", {"model": "a", "messages": [{"role": "user", "content": WORDS}], "max_tokens": 30,
                             "fallbacks": ["b"], "mock_testing_rate_limit_error": True, "stream": True,
                             "stream_options": {"include_usage": True}}),
    ("tool schema heavy", {"model": "b", "messages": MSG, "max_tokens": 10, "tools": [
        {"type": "function", "function": {"name": "f", "description": "d" * 4000,
                                          "parameters": {"type": "object", "properties": {}}}}]}),
]


def _cost(r: httpx.Response) -> float:
    if r.status_code != 200:
        return 0.0
    if "x-gemgate-response-cost" in r.headers:
        return float(r.headers["x-gemgate-response-cost"])
    return -1.0  # a stream: its cost arrives with the settlement only


def test_hostile_mix_never_overspends(gw, fake_gemini):
    budget = 0.004
    key = new_key(gw, max_budget=budget)
    jobs = [body for _ in range(6) for _, body in HOSTILE]

    def one(body):
        return chat(gw, key, body)

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(one, jobs))
    for _ in range(3):  # and again sequentially once in-flight reservations are gone
        results += [chat(gw, key, body) for _, body in HOSTILE]
    codes = [r.status_code for r in results]
    assert set(codes) <= {200, 429}, [(r.status_code, r.text[:200]) for r in results if r.status_code not in (200, 429)]
    refused = [r.json()["error"] for r in results if r.status_code == 429]
    assert refused and all(e["type"] == "budget_exceeded" for e in refused)
    assert 200 in codes
    assert "gemini-2.5-pro" in upstream_models(fake_gemini)  # the pricier fallback did serve some
    time.sleep(1.0)
    spend = spend_of(gw, key)
    overspend_micros = max(0, round((spend - budget) * 1e6))
    print(f"hostile mix: {codes.count(200)} served, {codes.count(429)} refused, spend ${spend:.6f} "
          f"of ${budget:.6f}, overspend {overspend_micros} micro-USD")
    assert overspend_micros == 0
    unary = [_cost(r) for r in results if _cost(r) >= 0]
    assert spend >= sum(unary) - 1e-6  # every unary answer's cost was recorded


def test_no_max_tokens_unaffordable_is_a_clear_429(gw, fake_gemini):
    key = new_key(gw, max_budget=0.01)  # 65,536 output tokens of gemini-2.5-pro cost $0.66
    client = openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=key, max_retries=0, timeout=30)
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(model="b", messages=MSG)
    assert ei.value.body["type"] == "budget_exceeded" and ei.value.body["code"] == "max_tokens_required"
    assert ei.value.body["param"] == "max_tokens" and "max_tokens" in ei.value.message
    assert fake_gemini.requests == []
    out = client.chat.completions.create(model="b", messages=MSG, max_tokens=200)  # affordable with a limit
    assert out.choices[0].message.content


def test_200_concurrent_keyed_requests_no_spurious_errors(gw, fake_gemini):
    import asyncio

    key = new_key(gw, max_budget=10.0)

    async def run():
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=gw.base_url, timeout=60, limits=limits) as client:
            async def one(i):
                return await client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                                         json={"model": "a", "messages": [{"role": "user", "content": f"hi {i}"}],
                                               "max_tokens": 5})
            return await asyncio.gather(*(one(i) for i in range(200)))

    results = asyncio.run(run())
    bad = [(r.status_code, r.text[:200]) for r in results if r.status_code != 200]
    print(f"200 concurrent keyed requests: {len(bad)} errors")
    assert bad == []
