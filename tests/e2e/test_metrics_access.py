"""Issue 10 item 8: /metrics needs the master key or the metrics token, and its labels never carry
unvalidated client input (1,500 random model names add O(1) series; a pasted key shows nowhere)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from rest_facade.app import FacadeSettings, create_app
from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config

MASTER = "sk-metrics-test-0123456789-abcdefghijklmnopq"
TOKEN = "metrics-token-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("metrics")
    cfg = gemini_config(fake_gemini_server.base_url, master_key=MASTER, metrics_token=TOKEN)
    # LiteLLM's switch to open /metrics: recognised, warned about, and never loosens anything
    cfg["litellm_settings"] = {"require_auth_for_metrics_endpoint": False}
    gateway = start_gateway(write_config(tmp, cfg), tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def scrape(gw, credential: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    return httpx.get(f"{gw.base_url}/metrics", headers=headers, timeout=10)


def series(text: str) -> set[str]:
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_metrics_need_master_key_or_token(gw):
    key = httpx.post(f"{gw.base_url}/key/generate", headers={"Authorization": f"Bearer {MASTER}"},
                     json={"key_alias": "secret-alias"}, timeout=10).json()["key"]
    for cred in (None, "wrong", key, TOKEN[:-1]):
        r = scrape(gw, cred)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["type"] == "authentication_error"
        assert "gemgate_" not in r.text
    for cred in (MASTER, TOKEN):
        r = scrape(gw, cred)
        assert r.status_code == 200 and "gemgate_budget_call_latency_seconds" in r.text
    assert "require_auth_for_metrics_endpoint: false is ignored by gemgate" in gw.log()
    # the per-process ports behind it answer only the facade (the internal secret)
    for port in gw.metrics_ports:
        url = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(url, timeout=5).status_code == 401
        assert httpx.get(url, headers={"x-gemgate-internal-secret": "w" * 43}, timeout=5).status_code == 401
        assert httpx.get(url, headers={"x-gemgate-internal-secret": gw.internal_secret}, timeout=5).status_code == 200


def test_random_models_and_pasted_keys_stay_out_of_labels(gw, fake_gemini):
    key = httpx.post(f"{gw.base_url}/key/generate", headers={"Authorization": f"Bearer {MASTER}"},
                     json={"key_alias": "labelled"}, timeout=10).json()["key"]
    ok = httpx.post(f"{gw.base_url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                    json={"model": "flash", "messages": [{"role": "user", "content": "warm"}]}, timeout=10)
    assert ok.status_code == 200
    before = series(scrape(gw, MASTER).text)

    async def flood() -> list[int]:
        # idle connections expire client-side well before the server's keep-alive timeout, so a
        # loaded machine cannot make the client reuse a connection the server is closing
        async with httpx.AsyncClient(base_url=gw.base_url, timeout=30,
                                     limits=httpx.Limits(max_connections=32, keepalive_expiry=1.0)) as c:
            sem = asyncio.Semaphore(32)

            async def one(i: int) -> int:
                headers = {"Authorization": f"Bearer {key}"} if i % 2 else {}
                model = key if i == 7 else f"random-{uuid.uuid4().hex}"
                body = {"model": model, "messages": [{"role": "user", "content": "x"}]}
                async with sem:
                    try:
                        r = await c.post("/v1/chat/completions", headers=headers, json=body)
                    except httpx.TransportError:  # a dropped connection is not what this test is about
                        r = await c.post("/v1/chat/completions", headers=headers, json=body)
                return r.status_code

            return await asyncio.gather(*(one(i) for i in range(1500)))

    codes = asyncio.run(flood())
    assert set(codes) <= {401, 404}, (set(codes), gw.log()[-3000:])
    assert codes.count(401) == 750
    body = scrape(gw, MASTER).text
    # the router's lease heartbeat (every few seconds, whatever the traffic) may first run mid-flood
    added = {s for s in series(body) - before if 'method="Heartbeat"' not in s}
    assert len(added) <= 30, sorted(added)[:40]
    assert key not in body and "random-" not in body
    assert 'model_group="unknown"' in body
    assert fake_gemini.requests[-1:] and len(fake_gemini.requests) == 1  # none of the flood went upstream


def test_without_any_credential_configured_only_loopback_may_scrape():
    app = create_app(FacadeSettings(router_address="127.0.0.1:9"))
    with TestClient(app) as client:  # TestClient's peer is "testclient": not loopback
        r = client.get("/metrics")
        assert r.status_code == 401 and r.json()["error"]["code"] == "metrics_auth_required"
