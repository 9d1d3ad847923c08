"""LiteLLM settings and utility endpoints end to end: the real CLI, the official openai client and
the strict Gemini fake. Wildcard + alias routing, per-deployment defaults, extra_headers/extra_body,
forwarded client headers, the mock-params switch, a global proxy budget, allowed_routes,
/model/info, /model_group/info, /utils/token_counter, /routes, /v1/completions, not-supported
LiteLLM paths, and the CLI's handling of LiteLLM settings and flags."""

from __future__ import annotations

import subprocess
import sys

import httpx
import openai
import pytest

from tests.e2e.gateway import ROOT, start_gateway, write_config

KEY = "test-key"
MASTER = "sk-master-compat-0123456789"


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compat")
    base = f"{fake_gemini_server.base_url}/v1beta"
    cfg = {
        "model_list": [
            {"model_name": "gemini/*", "litellm_params": {"model": "gemini/*", "api_key": "os.environ/GEMINI_API_KEY",
                                                         "api_base": base}},
            {"model_name": "tuned", "litellm_params": {
                "model": "gemini/gemini-2.5-flash", "api_key": "os.environ/GEMINI_API_KEY", "api_base": base,
                "temperature": 0.3, "top_p": 0.9, "max_tokens": 123, "reasoning_effort": "low",
                "extra_headers": {"x-team": "blue"}, "extra_body": {"cachedContent": "cachedContents/abc"}},
             "model_info": {"mode": "chat", "supports_vision": True, "supports_function_calling": True,
                            "access_groups": ["beta"], "max_input_tokens": 1048576}},
        ],
        "router_settings": {"model_group_alias": {"gpt-4o": "tuned"}},
        "litellm_settings": {"max_budget": 50, "budget_duration": "30d", "callbacks": ["prometheus"]},
        "general_settings": {"master_key": MASTER, "forward_client_headers_to_llm_api": True,
                             "allowed_routes": ["openai_routes", "/model/info", "/v1/model/info", "/utils/token_counter"],
                             "background_health_checks": True},
    }
    g = start_gateway(write_config(tmp, cfg), tmp, env={"GEMINI_API_KEY": KEY})
    yield g
    assert g.stop() == 0, g.log()


def admin(gw, path, body=None):
    r = httpx.post(f"{gw.base_url}{path}", json=body or {}, headers={"Authorization": f"Bearer {MASTER}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def vkey(gw):
    return admin(gw, "/key/generate", {"max_budget": 10})["key"]


def client(gw, key):
    return openai.OpenAI(api_key=key, base_url=f"{gw.base_url}/v1", max_retries=0, timeout=30)


def test_warning_printed_once_for_an_ignored_setting(gw):
    assert gw.log().count("LiteLLM setting 'background_health_checks' is ignored by gemgate") == 1


def test_wildcard_serves_any_gemini_model(gw, vkey, fake_gemini):
    resp = client(gw, vkey).chat.completions.create(model="gemini/gemini-2.0-flash",
                                                    messages=[{"role": "user", "content": "wild"}])
    assert resp.choices[0].message.content == "echo: wild"
    assert fake_gemini.requests[-1]["path"] == "/v1beta/models/gemini-2.0-flash:generateContent"


def test_alias_defaults_extras_and_forwarded_headers(gw, vkey, fake_gemini):
    c = client(gw, vkey)
    c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                              extra_headers={"x-trace-id": "t-1", "x-api-key": "never-forwarded"})
    sent = fake_gemini.requests[-1]
    assert sent["model"] == "gemini-2.5-flash"
    gen = sent["body"]["generationConfig"]
    assert (gen["temperature"], gen["topP"], gen["maxOutputTokens"]) == (0.3, 0.9, 123)
    assert gen["thinkingConfig"]["thinkingBudget"] == 1024
    assert sent["body"]["cachedContent"] == "cachedContents/abc"
    h = sent["headers"]
    assert h["x-team"] == "blue" and h["x-trace-id"] == "t-1" and h["x-goog-api-key"] == KEY
    assert "x-api-key" not in h and MASTER not in str(h) and vkey not in str(h)
    c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], temperature=1.5,
                              max_tokens=5)
    gen = fake_gemini.requests[-1]["body"]["generationConfig"]
    assert (gen["temperature"], gen["maxOutputTokens"]) == (1.5, 5)


def test_mock_params_need_the_master_key_or_the_switch(gw, vkey, fake_gemini):
    with pytest.raises(openai.BadRequestError) as exc:
        client(gw, vkey).chat.completions.create(model="tuned", messages=[{"role": "user", "content": "x"}],
                                                 extra_body={"mock_testing_fallbacks": True})
    assert "dangerously_allow_mock_testing_request_params" in exc.value.body["message"]
    r = client(gw, MASTER).chat.completions.create(model="tuned", messages=[{"role": "user", "content": "x"}],
                                                   extra_body={"mock_response": "mocked"})
    assert r.choices[0].message.content == "mocked"


def test_allowed_routes(gw, vkey):
    r = httpx.get(f"{gw.base_url}/model_group/info", headers={"Authorization": f"Bearer {vkey}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "route_not_allowed"
    r = httpx.get(f"{gw.base_url}/model_group/info", headers={"Authorization": f"Bearer {MASTER}"})
    assert r.status_code == 200
    group = {g["model_group"]: g for g in r.json()["data"]}["tuned"]
    assert group["supports_vision"] is True and group["access_groups"] == ["beta"]
    assert group["input_cost_per_token"] == pytest.approx(0.30e-6)


def test_model_info_never_shows_secrets(gw, vkey):
    r = httpx.get(f"{gw.base_url}/v1/model/info", headers={"Authorization": f"Bearer {vkey}"})
    assert r.status_code == 200, r.text
    data = {d["model_name"]: d for d in r.json()["data"]}
    tuned = data["tuned"]
    assert tuned["model_info"]["mode"] == "chat" and tuned["model_info"]["supports_function_calling"] is True
    assert tuned["model_info"]["max_input_tokens"] == 1048576
    assert KEY not in r.text and "api_key" not in r.text
    assert httpx.get(f"{gw.base_url}/model/info").status_code == 401


def test_token_counter(gw, vkey):
    r = httpx.post(f"{gw.base_url}/utils/token_counter", headers={"Authorization": f"Bearer {vkey}"},
                   json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hello world " * 30}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total_tokens"] >= 60 and body["model_used"] == "gemini/gemini-2.5-flash"


def test_legacy_completions_unary_and_stream(gw, vkey):
    c = client(gw, vkey)
    r = c.completions.create(model="tuned", prompt="Say this is a test", max_tokens=7)
    assert r.object == "text_completion" and r.choices[0].text == "echo: Say this is a test"
    assert r.usage.total_tokens > 0
    chunks = list(c.completions.create(model="tuned", prompt="stream me", stream=True))
    assert "".join(ch.choices[0].text for ch in chunks if ch.choices) == "echo: stream me"
    with pytest.raises(openai.BadRequestError):
        c.completions.create(model="tuned", prompt="x", echo=True)


def test_routes_and_not_supported_litellm_paths(gw):
    r = httpx.get(f"{gw.base_url}/routes", headers={"Authorization": f"Bearer {MASTER}"})
    paths = {x["path"] for x in r.json()["routes"]}
    assert {"/v1/chat/completions", "/v1/completions", "/model/info", "/utils/token_counter"} <= paths
    r = httpx.post(f"{gw.base_url}/v1/images/generations", headers={"Authorization": f"Bearer {MASTER}"}, json={})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_supported"
    assert "not supported by gemgate" in r.json()["error"]["message"]
    r = httpx.get(f"{gw.base_url}/health/history", headers={"Authorization": f"Bearer {MASTER}"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_supported"
    r = httpx.get(f"{gw.base_url}/no/such/thing", headers={"Authorization": f"Bearer {MASTER}"})
    assert r.status_code == 404 and r.json()["error"]["code"] != "not_supported"


def test_global_budget_stops_every_key_including_master(fake_gemini_server, tmp_path):
    base = f"{fake_gemini_server.base_url}/v1beta"
    cfg = {"model_list": [{"model_name": "m", "litellm_params": {"model": "gemini/gemini-2.5-flash", "api_key": KEY,
                                                                 "api_base": base}}],
           "litellm_settings": {"max_budget": 0}, "general_settings": {"master_key": MASTER}}
    g = start_gateway(write_config(tmp_path, cfg), tmp_path)
    try:
        with pytest.raises(openai.RateLimitError) as exc:
            client(g, MASTER).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert exc.value.body["message"].startswith("BudgetExceededError:")
        assert "the proxy (litellm_settings.max_budget)" in exc.value.body["message"]
    finally:
        assert g.stop() == 0, g.log()


def run_cli(args, timeout=30):
    return subprocess.run([sys.executable, "-m", "gemgate.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_cli_refuses_unsupported_setting_and_flag_and_checks_config(tmp_path):
    cfg = write_config(tmp_path, {"model_list": [], "general_settings": {"custom_auth": "my.module"}})
    res = run_cli(["--config", str(cfg), "--skip_server_startup"])
    assert res.returncode != 0
    assert "LiteLLM setting 'custom_auth' is not supported by gemgate" in res.stderr and "Traceback" not in res.stderr
    ok = write_config(tmp_path, {"model_list": [{"model_name": "x", "litellm_params": {"model": "gemini/brand-new"}}],
                                 "litellm_settings": {"telemetry": False}}, name="ok.yaml")
    res = run_cli(["--config", str(ok), "--skip_server_startup", "--num_workers", "4", "--telemetry", "False"])
    assert res.returncode == 0, res.stderr
    assert "LiteLLM flag --telemetry accepted" in res.stderr and "--num_workers" not in res.stderr
    assert "'gemini/brand-new' has no price" in res.stderr and "LiteLLM setting 'telemetry' is ignored" in res.stderr
    res = run_cli(["--config", str(ok), "--drop_params"])
    assert res.returncode == 2 and "litellm_settings.drop_params" in res.stderr
    res = run_cli(["--help"])
    assert "--detailed_debug" in res.stdout and "--num_workers" in res.stdout


def test_cli_refuses_a_redis_url_it_cannot_honour(tmp_path):
    """A Redis URL parameter gemgate does not implement (here: turning certificate checks off) stops the
    CLI before anything starts, naming the parameter and never echoing the URL's password."""
    cfg = write_config(tmp_path, {"model_list": [], "general_settings": {
        "master_key": "sk-" + "m" * 40, "redis_url": "rediss://app:hunter2@cache.internal:6380/0?ssl_cert_reqs=none"}})
    res = run_cli(["--config", str(cfg), "--skip_server_startup"])
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "the Redis URL is not usable" in res.stderr and "ssl_cert_reqs" in res.stderr
    assert "hunter2" not in res.stderr


def test_facade_loads_the_model_descriptions_only_when_asked(fake_gemini_server, tmp_path):
    """The CLI hands the facade its settings (rest_facade/handover.py): the facade reads the whole
    config only for the model-describing endpoints, on their first call. A file broken after startup
    is then a clear 503 there, and nothing else is affected."""
    cfg = {"model_list": [{"model_name": "m", "litellm_params": {
        "model": "gemini/gemini-2.5-flash", "api_key": KEY, "api_base": f"{fake_gemini_server.base_url}/v1beta"}}],
        "general_settings": {"master_key": MASTER}}
    path = write_config(tmp_path, cfg)
    g = start_gateway(path, tmp_path)
    try:
        path.write_text("model_list: [")  # broken after startup
        r = httpx.get(f"{g.base_url}/model/info", headers={"Authorization": f"Bearer {MASTER}"})
        assert r.status_code == 503 and "config file no longer loads" in r.json()["error"]["message"], r.text
        assert client(g, MASTER).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}]).choices
    finally:
        assert g.stop() == 0, g.log()


def test_access_groups_in_key_models(gw):
    key = admin(gw, "/key/generate", {"models": ["beta"], "key_alias": "beta-only"})["key"]
    c = client(gw, key)
    assert c.chat.completions.create(model="tuned", messages=[{"role": "user", "content": "x"}]).choices
    assert [m.id for m in c.models.list().data] == ["tuned"]
    with pytest.raises(openai.PermissionDeniedError) as exc:
        c.chat.completions.create(model="gemini/gemini-2.0-flash", messages=[{"role": "user", "content": "x"}])
    assert "API key 'beta-only' is not allowed" in exc.value.body["message"]


def test_thinking_disabled_on_a_model_that_always_thinks(gw, vkey, fake_gemini):
    """Gemini 2.5 Pro answers 400 to thinkingBudget 0 (the strict fake too): disabled sends its minimum."""
    c = client(gw, vkey)
    r = c.chat.completions.create(model="gemini/gemini-2.5-pro", messages=[{"role": "user", "content": "no thinking"}],
                                  max_tokens=50, extra_body={"thinking": {"type": "disabled"}})
    assert r.choices[0].message.content == "echo: no thinking"
    assert fake_gemini.requests[-1]["body"]["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 128}
    with pytest.raises(openai.BadRequestError) as exc:
        c.chat.completions.create(model="gemini/gemini-2.5-pro", messages=[{"role": "user", "content": "x"}],
                                  max_tokens=50, extra_body={"thinking": {"type": "enabled", "budget_tokens": 16}})
    assert exc.value.body["param"] == "thinking.budget_tokens" and len(fake_gemini.requests) == 1
