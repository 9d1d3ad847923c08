"""Every config and request of LiteLLM's "Use Gemini in OpenAI Format" page
(../shared/seed-gemini-litellm.md), run against the real CLI with only keys and api_base changed
(and, for Vertex, a service account whose token_uri is the strict fake OAuth server)."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from tests.e2e.gateway import start_gateway, write_config
from tests.fakes.oauth import FakeOAuth, make_service_account, write_service_account
from tests.fakes.server import run_in_thread, serving
from tests.fakes.vertex_claude import FakeVertex
from tests.service.usage.receiver import start_receiver

KEY = "test-key"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def gemini_pro(base: str) -> dict:
    return {"model_name": "gemini-pro",
            "litellm_params": {"model": "gemini/gemini-pro", "api_key": "os.environ/GEMINI_API_KEY",
                               "api_base": f"{base}/v1beta"}}


def post(gw, body, headers=None, raw: bytes | None = None) -> httpx.Response:
    h = {"content-type": "application/json", **(headers or {})}
    return httpx.post(f"{gw.base_url}/chat/completions", content=raw if raw is not None else json.dumps(body),
                      headers=h, timeout=30)


@pytest.fixture(scope="module")
def oauth():
    with serving(FakeOAuth()) as fake:
        yield fake


@pytest.fixture(scope="module")
def claude_fake(oauth):
    with serving(FakeVertex(oauth)) as fake:
        yield fake


# ---------------------------------------------------------------- load balancing + fallbacks
@pytest.fixture(scope="module")
def lb_gateway(oauth, claude_fake, fake_gemini_server, tmp_path_factory):
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in os.environ
    tmp = tmp_path_factory.mktemp("seed-lb")
    info = make_service_account(oauth.token_uri, project_id="adc-project")
    oauth.trust(info)
    fake_gemini_server.token_ok = oauth.is_valid
    sa = write_service_account(tmp / "service_account.json", info)
    base = fake_gemini_server.base_url
    cfg = {
        "model_list": [
            gemini_pro(base),
            {"model_name": "gemini-pro", "litellm_params": {
                "model": "vertex_ai/gemini-pro", "vertex_credentials": sa, "vertex_project": "my-project",
                "vertex_region": "my-region", "api_base": base}},
            {"model_name": "anthropic-vertex", "litellm_params": {
                "model": "vertex_ai/claude-3-sonnet@20240229", "vertex_ai_project": "my-test-project",
                "vertex_ai_location": "us-east-1", "api_base": claude_fake.base_url}},
        ],
        "litellm_settings": {"fallbacks": [{"gemini-pro": ["anthropic-vertex"]}]},
        # the page's "gcloud auth application-default login", as LiteLLM users also write it
        "environment_variables": {"GOOGLE_APPLICATION_CREDENTIALS": sa},
    }
    gw = start_gateway(write_config(tmp, cfg), tmp, env={"GEMINI_API_KEY": KEY})
    yield gw
    assert gw.stop() == 0, gw.log()


def test_lb_simple_call_and_vertex_region(lb_gateway, fake_gemini):
    seen = set()
    for _ in range(12):
        r = post(lb_gateway, {"model": "gemini-pro", "messages": [{"role": "user", "content": "what llm are you"}]})
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == "echo: what llm are you"
        seen.add(r.headers["x-gemgate-model-id"])
        if len(seen) == 2:
            break
    assert seen == {"gemini-pro-0", "gemini-pro-1"}  # both deployments serve (load balancing)
    vertex = [r for r in fake_gemini.requests if r.get("vertex")]
    assert vertex and vertex[-1]["path"] == (
        "/v1/projects/my-project/locations/my-region/publishers/google/models/gemini-pro:generateContent")


def test_lb_mock_rate_limit_error_is_retried_on_the_other_deployment(lb_gateway, fake_gemini):
    r = post(lb_gateway, {"model": "gemini-pro", "messages": [{"role": "user", "content": "Hi there!"}],
                          "mock_testing_rate_limit_error": True}, headers={"Authorization": "Bearer sk-1234"})
    assert r.status_code == 200, r.text
    assert r.headers["x-gemgate-attempts"] == "2"


def test_lb_mock_fallbacks_reach_claude_on_vertex_via_adc_from_environment_variables(lb_gateway, claude_fake):
    r = post(lb_gateway, {"model": "gemini-pro", "messages": [{"role": "user", "content": "what llm are you"}],
                          "mock_testing_fallbacks": True})
    assert r.status_code == 200, r.text
    assert r.headers["x-gemgate-fallback"] == "anthropic-vertex"
    assert r.json()["choices"][0]["message"]["content"] == "Hello!"
    sent = claude_fake.requests[-1]
    # ADC came from GOOGLE_APPLICATION_CREDENTIALS in environment_variables (a real signed JWT grant)
    assert sent["path"].startswith("/v1/projects/my-test-project/locations/us-east-1/publishers/anthropic/models/"
                                   "claude-3-sonnet@20240229:rawPredict")


def test_lb_claude_3_sonnet_is_priced_from_the_table(lb_gateway):
    r = post(lb_gateway, {"model": "anthropic-vertex", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    expected = (usage["prompt_tokens"] * 3.0 + usage["completion_tokens"] * 15.0) / 1e6  # $3 / $15 per 1M
    assert float(r.headers["x-gemgate-response-cost"]) == pytest.approx(expected, abs=2e-6)
    assert "has no price" not in lb_gateway.log()


# ---------------------------------------------------------------- track usage (langsmith)
@pytest.fixture(scope="module")
def langsmith():
    rec = start_receiver()
    yield rec
    rec.server.shutdown()


@pytest.fixture(scope="module")
def ls_gateway(langsmith, fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed-ls")
    cfg = {
        "model_list": [gemini_pro(fake_gemini_server.base_url)],
        "litellm_settings": {"success_callback": ["langsmith"]},
        "environment_variables": {"LANGSMITH_API_KEY": "lsv2_pt_xxxxxxxx", "LANGSMITH_PROJECT": "litellm-proxy",
                                  "LANGSMITH_BASE_URL": langsmith.url},
    }
    gw = start_gateway(write_config(tmp, cfg), tmp, env={"GEMINI_API_KEY": KEY}, args=["--detailed_debug"])
    yield gw
    assert gw.stop() == 0, gw.log()


def test_page_curl_body_with_trailing_comma_is_a_clear_400(ls_gateway):
    raw = b' {\n      "model": "gemini-pro",\n      "messages": [\n        {\n          "role": "user",\n' \
          b'          "content": "Hello, Gemini!"\n        }\n      ],\n    }\n'
    r = post(ls_gateway, None, raw=raw)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and "JSON" in err["message"]


def test_langsmith_from_environment_variables_gets_the_call(ls_gateway, langsmith):
    client = openai.OpenAI(api_key="anything", base_url=ls_gateway.base_url, max_retries=0)
    resp = client.chat.completions.create(model="gemini-pro", messages=[{"role": "user", "content": "Hello, Gemini!"}])
    assert resp.choices[0].message.content == "echo: Hello, Gemini!"
    deadline = time.monotonic() + 10
    while not langsmith.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert langsmith.requests, "langsmith receiver got nothing"
    req = langsmith.requests[0]
    assert req.path == "/runs/batch" and req.headers["x-api-key"] == "lsv2_pt_xxxxxxxx"
    assert "litellm-proxy" in req.body.decode()
    assert " DEBUG " in ls_gateway.log()  # --detailed_debug


def test_sample_usage_and_tool_calling_with_the_openai_client(ls_gateway, fake_gemini):
    client = openai.OpenAI(api_key="anything", base_url=ls_gateway.base_url, max_retries=0)
    resp = client.chat.completions.create(
        model="gemini-pro", messages=[{"role": "user", "content": "this is a test request, write a short poem"}])
    assert resp.choices[0].message.content.startswith("echo: this is a test request")
    tools = [{"type": "function", "function": {
        "name": "get_current_weather", "description": "Get the current weather in a given location",
        "parameters": {"type": "object", "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}}}]
    completion = client.chat.completions.create(
        model="gemini-pro", messages=[{"role": "user", "content": "What's the weather like in Boston today?"}],
        tools=tools, tool_choice="auto")
    assert completion.choices[0].finish_reason == "stop"
    sent = fake_gemini.requests[-1]["body"]
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "get_current_weather"
    assert sent["toolConfig"]["functionCallingConfig"]["mode"] == "AUTO"


def test_gemini_pro_is_priced_not_fallback(ls_gateway):
    r = post(ls_gateway, {"model": "gemini-pro", "messages": [{"role": "user", "content": "price me"}]})
    usage = r.json()["usage"]
    expected = (usage["prompt_tokens"] * 0.5 + usage["completion_tokens"] * 1.5) / 1e6
    assert float(r.headers["x-gemgate-response-cost"]) == pytest.approx(expected, abs=2e-6)


# ---------------------------------------------------------------- virtual keys + budgets
@pytest.fixture(scope="module")
def budget_gateway(fake_gemini_server, tmp_path_factory):
    from tests.service.record.conftest import PG_URL, run_sql

    tmp = tmp_path_factory.mktemp("seed-budget")
    schema = f"gg_seed_{uuid.uuid4().hex[:12]}"
    run_sql(f"CREATE SCHEMA {schema}")
    # the page's config: master_key + database_url (PostgreSQL; a schema of its own on the shared server)
    cfg = {"model_list": [gemini_pro(fake_gemini_server.base_url)],
           "general_settings": {"master_key": "sk-1234", "database_url": f"{PG_URL}?search_path={schema}"}}
    gw = start_gateway(write_config(tmp, cfg), tmp, env={"GEMINI_API_KEY": KEY})
    try:
        yield gw
        assert gw.stop() == 0, gw.log()
    finally:
        gw.stop()
        run_sql(f"DROP SCHEMA {schema} CASCADE")


def test_virtual_key_and_zero_budget_says_budget_exceeded_error(budget_gateway):
    master = {"Authorization": "Bearer sk-1234"}
    r = httpx.post(f"{budget_gateway.base_url}/key/generate", headers=master, json={}, timeout=10)
    assert r.status_code == 200, r.text
    key = r.json()["key"]
    ok = post(budget_gateway, {"model": "gemini-pro", "messages": [{"role": "user", "content": "Hello, Gemini!"}]},
              headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200, ok.text
    r = httpx.post(f"{budget_gateway.base_url}/key/generate", headers=master,
                   json={"max_budget": 0, "budget_duration": "1m"}, timeout=10)
    key0 = r.json()["key"]
    r = post(budget_gateway, {"model": "gemini-pro", "messages": [{"role": "user", "content": "Hello, Gemini!"}]},
             headers={"Authorization": f"Bearer {key0}"})
    assert r.status_code == 429
    msg = r.json()["error"]["message"]
    assert msg.startswith("BudgetExceededError:"), msg
    assert "key key" not in msg and key0 not in msg


# ---------------------------------------------------------------- safety settings + vision
@pytest.fixture(scope="module")
def image_server():
    async def image(request):
        return Response(PNG, media_type="image/png")

    handle = run_in_thread(Starlette(routes=[Route("/github-repo/img/gemini/intro/landmark3.jpg", image)]))
    yield handle.base_url
    handle.stop()


@pytest.fixture(scope="module")
def safety_gateway(fake_gemini_server, image_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed-safety")
    dep = gemini_pro(fake_gemini_server.base_url)
    dep["litellm_params"]["safety_settings"] = [
        {"category": c, "threshold": "BLOCK_NONE"} for c in (
            "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
            "HARM_CATEGORY_DANGEROUS_CONTENT")]
    # the test image server is on loopback, which the SSRF guard refuses unless allowed
    cfg = {"model_list": [dep], "general_settings": {"media_allowed_networks": ["127.0.0.0/8"]}}
    gw = start_gateway(write_config(tmp, cfg), tmp, env={"GEMINI_API_KEY": KEY})
    yield gw
    assert gw.stop() == 0, gw.log()


def test_safety_settings_reach_gemini(safety_gateway, fake_gemini):
    client = openai.OpenAI(api_key="anything", base_url=safety_gateway.base_url, max_retries=0)
    client.chat.completions.create(model="gemini-pro", messages=[{"role": "user", "content": "hi"}])
    sent = fake_gemini.requests[-1]["body"]["safetySettings"]
    assert {s["category"] for s in sent} == {"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
                                             "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT"}
    assert {s["threshold"] for s in sent} == {"BLOCK_NONE"}


def test_vision_with_a_plain_string_image_url(safety_gateway, fake_gemini, image_server):
    client = openai.OpenAI(api_key="anything", base_url=safety_gateway.base_url, max_retries=0)
    response = client.chat.completions.create(
        model="gemini-pro",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What's in this image?"},
            {"type": "image_url", "image_url": f"{image_server}/github-repo/img/gemini/intro/landmark3.jpg"}]}],
        max_tokens=300)
    assert response.choices[0].message.content == "echo: What's in this image?"
    body = fake_gemini.requests[-1]["body"]
    parts = body["contents"][0]["parts"]
    assert any(p.get("inlineData", {}).get("mimeType") == "image/png" for p in parts)
    assert body["generationConfig"]["maxOutputTokens"] == 300
