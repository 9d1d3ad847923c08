"""Issue 6 end to end: virtual keys, budgets and limits through the running gateway (real Redis)."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import openai
import pytest

from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import avoid_minute_boundary, start_gateway, write_config

MASTER = "sk-master-budget-test-0123456789"
CHAT = {"model": "flash", "messages": [{"role": "user", "content": "hello budget"}], "max_tokens": 10}


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("budget")
    cfg = write_config(tmp, gemini_config(fake_gemini_server.base_url, master_key=MASTER))
    gateway = start_gateway(cfg, tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def admin(gw, path, body=None, method="POST"):
    r = httpx.request(method, f"{gw.base_url}{path}", json=body, headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def new_key(gw, **fields) -> str:
    key = admin(gw, "/key/generate", fields)["key"]
    assert key.startswith("sk-") and len(key) >= 46
    return key


def settled_spend(gw, key, expected=None, timeout=5.0):
    """The key's spend once background settlements have landed (equal to `expected` if given)."""
    deadline = time.monotonic() + timeout
    while True:
        spend = admin(gw, f"/key/info?key={key}", method="GET")["info"]["spend"]
        if expected is None or spend == pytest.approx(expected, abs=1e-6) or time.monotonic() > deadline:
            return spend
        time.sleep(0.05)


def chat(gw, key, body=CHAT, **kw):
    return httpx.post(f"{gw.base_url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30, **kw)


def test_seed_example_zero_budget(gw, fake_gemini):
    key = new_key(gw, max_budget=0, budget_duration="1m")
    client = openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.status_code == 429
    assert exc.value.body["type"] == "budget_exceeded"
    assert key not in exc.value.message
    assert fake_gemini.requests == []


def test_spend_is_recorded_and_reported(gw, fake_gemini):
    key = new_key(gw, max_budget=1.0, key_alias="spender")
    costs = []
    for _ in range(3):
        r = chat(gw, key)
        assert r.status_code == 200, r.text
        costs.append(float(r.headers["x-gemgate-response-cost"]))
    assert all(c > 0 for c in costs)
    assert settled_spend(gw, key, sum(costs)) == pytest.approx(sum(costs), abs=1e-6)
    info = admin(gw, f"/key/info?key={key}", method="GET")["info"]
    assert info["key_alias"] == "spender"
    assert key not in str(info)


def test_small_budget_never_overspent_under_concurrency(gw, fake_gemini):
    budget = 0.0002  # a handful of requests at gemini-2.5-flash prices
    key = new_key(gw, max_budget=budget)

    def one(_):
        r = chat(gw, key)
        return r.status_code, float(r.headers.get("x-gemgate-response-cost", 0) or 0), r.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, range(64)))
    # then sequentially until the budget itself (not just in-flight reservations) refuses
    for _ in range(100):
        r = chat(gw, key)
        results.append((r.status_code, float(r.headers.get("x-gemgate-response-cost", 0) or 0), r.json()))
        if r.status_code == 429:
            break
    ok = [c for s, c, _ in results if s == 200]
    refused = [b for s, _, b in results if s == 429]
    assert ok and refused, results[:3]
    assert all(b["error"]["type"] == "budget_exceeded" for b in refused)
    spend = settled_spend(gw, key, sum(ok))
    assert spend <= budget + 1e-12
    assert spend == pytest.approx(sum(ok), abs=1e-6)
    assert chat(gw, key).status_code == 429


def test_model_restriction_and_listing(gw, fake_gemini):
    key = new_key(gw, models=["flash"])
    r = chat(gw, key, {**CHAT, "model": "down"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    models = httpx.get(f"{gw.base_url}/v1/models", headers={"Authorization": f"Bearer {key}"}).json()["data"]
    assert [m["id"] for m in models] == ["flash"]
    assert chat(gw, key).status_code == 200


def test_alias(gw, fake_gemini):
    key = new_key(gw, aliases={"my-gpt": "flash"})
    r = chat(gw, key, {**CHAT, "model": "my-gpt"})
    assert r.status_code == 200 and r.headers["x-gemgate-model-group"] == "flash"


def test_rpm_limit(gw, fake_gemini):
    key = new_key(gw, rpm_limit=2)
    avoid_minute_boundary(5)  # rpm windows are wall-clock minutes
    assert [chat(gw, key).status_code for _ in range(3)] == [200, 200, 429]


def test_block_unblock_delete(gw, fake_gemini):
    key = new_key(gw)
    admin(gw, "/key/block", {"key": key})
    assert chat(gw, key).status_code in (401, 403)
    admin(gw, "/key/unblock", {"key": key})
    assert chat(gw, key).status_code == 200
    admin(gw, "/key/delete", {"keys": [key]})
    assert chat(gw, key).status_code == 401


def test_management_needs_master(gw):
    key = new_key(gw)
    r = httpx.post(f"{gw.base_url}/key/generate", json={}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code in (401, 403) and "error" in r.json()
    r = httpx.post(f"{gw.base_url}/key/generate", json={"max_budget": "lots"}, headers={"Authorization": f"Bearer {MASTER}"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(f"{gw.base_url}/key/generate", json={"bogus": 1}, headers={"Authorization": f"Bearer {MASTER}"})
    assert r.status_code == 400


def test_cancelled_stream_releases_parallel_slot(gw, fake_gemini):
    key = new_key(gw, max_parallel_requests=1, max_budget=1.0)
    slow = [{"candidates": [{"content": {"role": "model", "parts": [{"text": f"part{i} "}]}}]} for i in range(20)]
    slow.append({"candidates": [{"content": {"role": "model", "parts": [{"text": "end"}]}, "finishReason": "STOP"}]})
    fake_gemini.enqueue("gemini-2.5-flash", {"sse": slow, "gap": 0.2})
    with httpx.stream("POST", f"{gw.base_url}/v1/chat/completions", json={**CHAT, "stream": True},
                      headers={"Authorization": f"Bearer {key}"}, timeout=30) as r:
        assert r.status_code == 200
        it = r.iter_lines()
        next(l for l in it if l.startswith("data: ") and "part0" in l)
        busy = chat(gw, key)  # the one slot is taken by the stream
        assert busy.status_code == 429
    deadline = time.monotonic() + 10
    while chat(gw, key).status_code != 200:
        assert time.monotonic() < deadline, "parallel slot not released after the client went away"
        time.sleep(0.2)
    assert settled_spend(gw, key) > 0  # the cut-short stream was charged for what it produced


@pytest.mark.parametrize("path, body", [
    ("/v1/completions", {"model": "flash", "prompt": "hello budget", "max_tokens": 10, "stream": True}),
    ("/gemini/v1beta/models/flash:streamGenerateContent?alt=sse",
     {"contents": [{"role": "user", "parts": [{"text": "hello budget"}]}], "generationConfig": {"maxOutputTokens": 10}}),
], ids=["legacy-completions", "gemini-native"])
def test_other_cancelled_streams_release_the_parallel_slot(gw, fake_gemini, path, body):
    """The same promise for the other streamed endpoints, which share the facade's stream response."""
    key = new_key(gw, max_parallel_requests=1, max_budget=1.0)
    # 30 s of events: only a cancellation reaching the router frees the slot within the 10 s below
    slow = [{"candidates": [{"content": {"role": "model", "parts": [{"text": f"part{i} "}]}}]} for i in range(150)]
    slow.append({"candidates": [{"content": {"role": "model", "parts": [{"text": "end"}]}, "finishReason": "STOP"}]})
    fake_gemini.enqueue("gemini-2.5-flash", {"sse": slow, "gap": 0.2})
    with httpx.stream("POST", f"{gw.base_url}{path}", json=body, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as r:
        assert r.status_code == 200
        lines = r.iter_lines()  # kept: a dropped iterator would close the stream here
        next(l for l in lines if "part0" in l)
        assert chat(gw, key).status_code == 429  # the one slot is taken by the stream
    deadline = time.monotonic() + 10
    while chat(gw, key).status_code != 200:
        assert time.monotonic() < deadline, "parallel slot not released after the client went away"
        time.sleep(0.2)
    assert settled_spend(gw, key) > 0


def test_global_spend_views(gw, fake_gemini):
    key = new_key(gw, key_alias="viewer", max_budget=1.0)
    assert chat(gw, key).status_code == 200
    assert isinstance(admin(gw, "/global/spend", method="GET"), dict)
    models = admin(gw, "/global/spend/models", method="GET")
    assert any(row.get("model") for row in models)
    assert admin(gw, "/spend/keys", method="GET")
