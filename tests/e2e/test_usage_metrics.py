"""Issue 7 end to end: usage records reach the configured callbacks; /metrics covers all processes."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config

MASTER = "sk-master-usage-test-0123456789"


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("usage")
    cfg = gemini_config(fake_gemini_server.base_url, master_key=MASTER)
    cfg["litellm_settings"] = {"success_callback": ["jsonl"], "failure_callback": ["jsonl"]}
    path = tmp / "usage.jsonl"
    gateway = start_gateway(write_config(tmp, cfg), tmp, env={"FAKE_GEMINI_KEY": TEST_KEY, "GEMGATE_USAGE_JSONL_PATH": str(path)})
    gateway.usage_path = path
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def read_records(path, n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= n:
            return [json.loads(x) for x in lines]
        time.sleep(0.1)
    raise AssertionError(f"expected {n} usage records, got {len(lines)}")


def test_usage_records_and_metrics(gw, fake_gemini):
    headers = {"Authorization": f"Bearer {MASTER}"}
    key = httpx.post(f"{gw.base_url}/key/generate", json={"key_alias": "tracked", "max_budget": 1.0}, headers=headers).json()["key"]
    auth = {"Authorization": f"Bearer {key}"}
    ok = httpx.post(f"{gw.base_url}/v1/chat/completions", headers=auth, json={"model": "flash", "messages": [{"role": "user", "content": "usage one"}]})
    assert ok.status_code == 200
    with httpx.stream("POST", f"{gw.base_url}/v1/chat/completions", headers=auth,
                      json={"model": "flash", "stream": True, "messages": [{"role": "user", "content": "usage two"}]}) as r:
        r.read()
    fake_gemini.enqueue("gemini-2.5-flash", {"status": 429, "body": {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}})
    failed = httpx.post(f"{gw.base_url}/v1/chat/completions", headers=auth, json={"model": "flash", "messages": [{"role": "user", "content": "x"}]})
    assert failed.status_code == 429

    records = read_records(gw.usage_path, 3)
    by_status = {(r["status"], r["stream"]): r for r in records}
    unary = by_status[("success", False)]
    assert unary["model_group"] == "flash" and unary["deployment_id"] == "flash-0"
    assert unary["prompt_tokens"] > 0 and unary["completion_tokens"] > 0
    assert unary["key_alias"] == "tracked" and len(unary["key_hash_prefix"]) == 12
    assert unary["response_cost"] == pytest.approx(float(ok.headers["x-gemgate-response-cost"]))
    assert unary["request_id"] == ok.headers["x-gemgate-request-id"]
    stream = by_status[("success", True)]
    assert stream["first_token_time"] and stream["start_time"] <= stream["first_token_time"] <= stream["end_time"]
    failure = by_status[("failure", False)]
    assert failure["error_type"] == "RATE_LIMIT"
    text = gw.usage_path.read_text()
    assert key not in text and MASTER not in text

    body = httpx.get(f"{gw.base_url}/metrics", headers=headers).text
    assert 'gemgate_requests_total{model_group="flash",status="success"}' in body
    # the router's budget calls (3 admissions, 3 settlements, in batches), not the facade's empty copy
    counts = {m: float(line.rsplit(" ", 1)[1]) for line in body.splitlines() for m in ("ReserveBatch", "SettleBatch")
              if line.startswith(f'gemgate_budget_call_latency_seconds_count{{method="{m}"}}')}
    assert counts["ReserveBatch"] >= 1 and counts["SettleBatch"] >= 1, counts
    assert "gemgate_time_to_first_token_seconds" in body
    assert body.count("# TYPE gemgate_requests_total ") == 1


def test_unknown_model_is_not_recorded_verbatim(gw):
    """A client's model string that no deployment serves (here: a key pasted into `model`) reaches
    neither the usage record nor a metric label; the record says "unknown"."""
    headers = {"Authorization": f"Bearer {MASTER}"}
    key = httpx.post(f"{gw.base_url}/key/generate", json={"max_budget": 1.0}, headers=headers).json()["key"]
    before = len(gw.usage_path.read_text().splitlines()) if gw.usage_path.exists() else 0
    pasted = "sk-pasted-into-model-" + key[3:40]
    r = httpx.post(f"{gw.base_url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                   json={"model": pasted, "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found", r.text
    records = read_records(gw.usage_path, before + 1)
    assert records[-1]["model_group"] == "unknown" and records[-1]["status"] == "failure"
    assert pasted not in gw.usage_path.read_text() and key[3:40] not in gw.usage_path.read_text()
    assert pasted not in httpx.get(f"{gw.base_url}/metrics", headers=headers).text
