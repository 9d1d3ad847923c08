"""Issue 4 end to end: Gemini on Vertex and Claude on Vertex through the running gateway, with a
service account whose token_uri is the strict fake OAuth server (JWT signature verified)."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.e2e.gateway import start_gateway, write_config
from tests.fakes.oauth import FakeOAuth, make_service_account, write_service_account
from tests.fakes.server import serving
from tests.fakes.vertex_claude import FakeVertex, claude_message

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
def gw(oauth, claude_fake, fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vertex")
    info = make_service_account(oauth.token_uri, project_id="sa-project")
    oauth.trust(info)
    fake_gemini_server.token_ok = oauth.is_valid
    sa_path = write_service_account(tmp / "sa.json", info)
    common = {"vertex_credentials": sa_path, "vertex_location": "us-central1"}
    cfg = {"model_list": [
        {"model_name": "vgemini", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "proj-1",
                                                     "api_base": fake_gemini_server.base_url, **common}},
        {"model_name": "vclaude", "litellm_params": {"model": f"vertex_ai/{CLAUDE}", "vertex_project": "proj-1",
                                                     "api_base": claude_fake.base_url, **common, "vertex_location": "us-east5"}},
        {"model_name": "vembed", "litellm_params": {"model": "vertex_ai/text-embedding-005", "api_base": fake_gemini_server.base_url, **common}},
    ]}
    gateway = start_gateway(write_config(tmp, cfg), tmp)
    yield gateway
    assert gateway.stop() == 0, gateway.log()


@pytest.fixture
def client(gw):
    return openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key="unused", max_retries=0)


def test_vertex_gemini_unary_and_stream(client, fake_gemini, oauth):
    resp = client.chat.completions.create(model="vgemini", messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "hi vertex"}])
    assert resp.choices[0].message.content == "echo: hi vertex"
    sent = fake_gemini.requests[-1]
    assert sent["vertex"] and sent["project"] == "proj-1" and sent["location"] == "us-central1"
    assert sent["path"] == "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    assert sent["headers"]["authorization"].startswith("Bearer ")
    assert all(c["role"] for c in sent["body"]["contents"])
    chunks = list(client.chat.completions.create(model="vgemini", messages=[{"role": "user", "content": "s v"}], stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: s v"
    assert chunks[-1].usage.total_tokens > 0


def test_one_token_fetch_for_many_requests(client, fake_gemini, oauth):
    for _ in range(5):
        client.chat.completions.create(model="vgemini", messages=[{"role": "user", "content": "again"}])
    assert oauth.fetches == 1  # one service account -> one token, cached across requests and models


def test_claude_unary(client, claude_fake):
    resp = client.chat.completions.create(model="vclaude", messages=[{"role": "system", "content": "be nice"}, {"role": "user", "content": "hello"}])
    assert resp.choices[0].message.content == "Hello!"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.prompt_tokens == 12 and resp.usage.completion_tokens == 5
    sent = claude_fake.requests[-1]
    assert sent["op"] == "rawPredict" and sent["publisher"] == "anthropic"
    assert sent["path"] == f"/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/{CLAUDE}:rawPredict"
    body = sent["body"]
    assert body["anthropic_version"] == "vertex-2023-10-16" and "model" not in body
    assert body["system"][0]["text"] == "be nice" and body["max_tokens"] > 0


def test_claude_stream(client, claude_fake):
    chunks = list(client.chat.completions.create(model="vclaude", messages=[{"role": "user", "content": "hi"}], stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage.completion_tokens == 7
    assert claude_fake.requests[-1]["op"] == "streamRawPredict"


def test_claude_tool_round_trip(client, claude_fake):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}
    claude_fake.claude_response = lambda body: {**claude_message(), "content": [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_01", "name": "lookup", "input": {"q": "x"}}], "stop_reason": "tool_use"}
    try:
        resp = client.chat.completions.create(model="vclaude", messages=[{"role": "user", "content": "find x"}], tools=[tool])
        msg = resp.choices[0].message
        assert resp.choices[0].finish_reason == "tool_calls"
        assert msg.tool_calls[0].id == "toolu_01" and json.loads(msg.tool_calls[0].function.arguments) == {"q": "x"}
        claude_fake.claude_response = lambda body: claude_message("found")
        final = client.chat.completions.create(model="vclaude", tools=[tool], messages=[
            {"role": "user", "content": "find x"}, msg.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": "toolu_01", "content": "result"}])
        assert final.choices[0].message.content == "found"
        last = claude_fake.requests[-1]["body"]["messages"]
        assert last[-1]["role"] == "user" and last[-1]["content"][0]["type"] == "tool_result"
        assert last[-1]["content"][0]["tool_use_id"] == "toolu_01"
    finally:
        claude_fake.claude_response = lambda body: claude_message()


def test_claude_bad_temperature_is_400(client):
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="vclaude", messages=[{"role": "user", "content": "hi"}], temperature=1.5)
    assert exc.value.body["param"] == "temperature"


def test_vertex_embeddings(client, fake_gemini, gw):
    out = client.embeddings.create(model="vembed", input=["a b", "c"], dimensions=16)
    assert [len(d.embedding) for d in out.data] == [16, 16]
    sent = fake_gemini.requests[-1]
    assert sent["op"] == "predict" and sent["body"]["parameters"] == {"outputDimensionality": 16}
    assert sent["project"] == "sa-project"  # no vertex_project: taken from the service account
    r = httpx.post(f"{gw.base_url}/v1/chat/completions", json={"model": "vembed", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


def test_claude_thinking_survives_the_tool_loop(client, claude_fake):
    """With reasoning on, the strict fake (like Anthropic) rejects a tool loop whose assistant turn
    does not start with the signed thinking block; the openai client sends the message back as it
    got it, thinking_blocks included."""
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}
    claude_fake.claude_response = lambda body: {**claude_message(), "stop_reason": "tool_use", "content": [
        {"type": "thinking", "thinking": "Need to look it up.", "signature": "RXFRQg=="},
        {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {"q": "x"}}]}
    try:
        first = client.chat.completions.create(model="vclaude", messages=[{"role": "user", "content": "find x"}],
                                               tools=[tool], reasoning_effort="low", max_tokens=4000)
        msg = first.choices[0].message
        assert msg.reasoning_content == "Need to look it up."
        claude_fake.claude_response = lambda body: claude_message("done")
        final = client.chat.completions.create(model="vclaude", tools=[tool], reasoning_effort="low", max_tokens=4000, messages=[
            {"role": "user", "content": "find x"}, msg.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": "toolu_9", "content": "found"}])
        assert final.choices[0].message.content == "done"
        sent = claude_fake.requests[-1]["body"]["messages"][1]["content"]
        assert sent[0] == {"type": "thinking", "thinking": "Need to look it up.", "signature": "RXFRQg=="}
    finally:
        claude_fake.claude_response = lambda body: claude_message()
