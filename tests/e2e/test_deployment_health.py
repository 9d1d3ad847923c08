"""GET /health end to end: each deployment checked with the cheapest call the strict fakes (AI
Studio, Vertex Gemini, Vertex Claude, fake OAuth) accept exactly as Google does; master key only;
bounded by timeouts; never a credential in the answer."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.e2e.conftest import TEST_KEY
from tests.e2e.gateway import start_gateway, write_config
from tests.fakes.oauth import FakeOAuth, make_service_account, write_service_account
from tests.fakes.server import serving
from tests.fakes.vertex_claude import FakeVertex

MASTER = "sk-master-health-test-0123456789-abcdefghij"
CLAUDE = "claude-sonnet-4-5@20250929"


@pytest.fixture(scope="module")
def oauth():
    with serving(FakeOAuth()) as fake:
        yield fake


@pytest.fixture(scope="module")
def claude_fake(oauth):
    with serving(FakeVertex(oauth)) as fake:
        yield fake


@pytest.fixture(scope="module")
def blackhole():
    """Accepts connections and never answers (a hung upstream)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


@pytest.fixture(scope="module")
def gw(oauth, claude_fake, fake_gemini_server, blackhole, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("health")
    good = make_service_account(oauth.token_uri, project_id="sa-project")
    oauth.trust(good)
    bad = make_service_account(oauth.token_uri, project_id="sa-project")  # never trusted: token refused
    fake_gemini_server.token_ok = oauth.is_valid
    good_path = write_service_account(tmp / "sa.json", good)
    bad_path = write_service_account(tmp / "bad.json", bad)
    studio = f"{fake_gemini_server.base_url}/v1beta"
    vertex = {"vertex_credentials": good_path, "vertex_location": "us-central1", "vertex_project": "proj-1"}

    def dep(name, model, **params):
        return {"model_name": name, "litellm_params": {"model": model, **params}}

    cfg = {"model_list": [
        dep("flash", "gemini/gemini-2.5-flash", api_key="os.environ/FAKE_GEMINI_KEY", api_base=studio),
        dep("flash", "gemini/gemini-2.5-flash", api_key="wrong-key-abcdef", api_base=studio),
        dep("embed", "gemini/text-embedding-004", api_key="os.environ/FAKE_GEMINI_KEY", api_base=studio),
        dep("gemini/*", "gemini/*", api_key="os.environ/FAKE_GEMINI_KEY", api_base=studio),
        dep("palm", "gemini/palm-2", api_key="os.environ/FAKE_GEMINI_KEY", api_base=studio),
        dep("down", "gemini/gemini-2.5-flash", api_key="x", api_base="http://127.0.0.1:9/v1beta"),
        {**dep("hung", "gemini/gemini-2.5-flash", api_key="x", api_base=f"{blackhole}/v1beta"),
         "model_info": {"health_check_timeout": 1}},
        dep("vgemini", "vertex_ai/gemini-2.5-flash", api_base=fake_gemini_server.base_url, **vertex),
        dep("vembed", "vertex_ai/text-embedding-005", api_base=fake_gemini_server.base_url, **vertex),
        dep("vclaude", f"vertex_ai/{CLAUDE}", api_base=claude_fake.base_url, **{**vertex, "vertex_location": "us-east5"}),
        dep("vbad", "vertex_ai/gemini-2.5-flash", api_base=fake_gemini_server.base_url,
            **{**vertex, "vertex_credentials": bad_path}),
    ], "general_settings": {"master_key": MASTER}}
    gateway = start_gateway(write_config(tmp, cfg), tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def get(gw, key=MASTER, **params):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{gw.base_url}/health", headers=headers, params=params, timeout=60)


def test_every_deployment_checked_cheaply(gw, fake_gemini, claude_fake):
    claude_fake.requests.clear()
    t0 = time.monotonic()
    r = get(gw)
    elapsed = time.monotonic() - t0
    assert r.status_code == 200, r.text
    body = r.json()
    healthy = {(e["model_name"], e["check"]) for e in body["healthy_endpoints"]}
    assert healthy == {("flash", "models.get"), ("embed", "models.get"), ("gemini/*", "models.list"),
                       ("vgemini", "countTokens"), ("vembed", "countTokens"), ("vclaude", "count-tokens")}
    unhealthy = {e["model_name"]: e for e in body["unhealthy_endpoints"]}
    assert set(unhealthy) == {"flash", "palm", "down", "hung", "vbad"}
    assert unhealthy["flash"]["error_type"] == "authentication" and "API key not valid" in unhealthy["flash"]["error"]
    assert unhealthy["palm"]["error_type"] == "model_not_found"
    assert unhealthy["down"]["error_type"] == "bad_gateway"
    assert unhealthy["hung"]["error_type"] == "upstream_timeout"
    assert unhealthy["vbad"]["error"]
    assert (body["healthy_count"], body["unhealthy_count"]) == (6, 5)
    assert elapsed < 8, elapsed  # the hung deployment is cut at its 1 s health_check_timeout
    # nothing secret, nothing billable
    for secret in (TEST_KEY, "wrong-key-abcdef", "sa.json", "bad.json", "PRIVATE KEY", MASTER):
        assert secret not in r.text
    gets = [q for q in fake_gemini.requests if not q["vertex"]]
    assert {q["op"] for q in gets} == {"models.get", "models.list"}
    assert all(q["headers"].get("x-goog-api-key") and "key" not in q["query"] for q in gets)
    vertex_calls = [q for q in fake_gemini.requests if q["vertex"]]
    assert {(q["model"], q["op"]) for q in vertex_calls} == {("gemini-2.5-flash", "countTokens"),
                                                             ("text-embedding-005", "countTokens")}
    assert [(q["publisher"], q["model"], q["op"]) for q in claude_fake.requests] == [
        ("anthropic", "count-tokens", "rawPredict")]
    assert not any(q["op"] in ("generateContent", "predict", "embedContent") for q in fake_gemini.requests)
    endpoint = next(e for e in body["healthy_endpoints"] if e["model_name"] == "vgemini")
    assert endpoint["vertex_project"] == "proj-1" and endpoint["model"] == "vertex_ai/gemini-2.5-flash"
    assert set(endpoint) <= {"model", "model_name", "model_id", "check", "latency_ms", "api_base", "vertex_project",
                             "vertex_location"}


def test_filters(gw, fake_gemini):
    body = get(gw, model="vclaude").json()
    assert [e["model_name"] for e in body["healthy_endpoints"]] == ["vclaude"] and body["unhealthy_count"] == 0
    body = get(gw, model="gemini/gemini-2.5-pro").json()  # served by the wildcard: its concrete model is checked
    assert [(e["model"], e["check"]) for e in body["healthy_endpoints"]] == [("gemini/gemini-2.5-pro", "models.get")]
    r = get(gw, model="nope")
    assert r.status_code == 404 and r.json()["error"]["param"] == "model"
    ids = [e["model_id"] for e in get(gw, model="flash").json()["unhealthy_endpoints"]]
    body = get(gw, model_id=ids[0]).json()
    assert body["unhealthy_count"] == 1 and body["healthy_count"] == 0


def test_master_key_only(gw, fake_gemini):
    key = httpx.post(f"{gw.base_url}/key/generate", json={}, headers={"Authorization": f"Bearer {MASTER}"}).json()["key"]
    r = get(gw, key=key)
    assert r.status_code == 403 and r.json()["error"]["code"] == "master_key_required"
    for bad in (None, "sk-wrong-key"):
        r = get(gw, key=bad)
        assert r.status_code == 401 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert fake_gemini.requests == []
    # the probes stay open and unchanged
    assert httpx.get(f"{gw.base_url}/health/liveliness").json() == "I'm alive!"
    assert httpx.get(f"{gw.base_url}/health/readiness").json()["status"] == "healthy"
