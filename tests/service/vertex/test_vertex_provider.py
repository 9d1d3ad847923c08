import asyncio

import pytest

from gemgate.config import Deployment
from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.google_auth import GoogleTokens
from router_service.providers.upstream_http import UpstreamClient
from router_service.providers.vertex import VertexProvider
from tests.fakes.vertex_claude import claude_message


@pytest.fixture
async def http():
    client = UpstreamClient()  # the router's own upstream client
    yield client
    await client.aclose()


def dep(vertex, sa, model="claude-sonnet-4-5@20250929", **extra):
    return Deployment.model_validate({"model_name": "grp", "litellm_params": {
        "model": f"vertex_ai/{model}", "api_base": vertex.base_url, "vertex_location": "us-east5",
        "vertex_credentials": sa, **extra}})


REQ = {"model": "grp", "messages": [{"role": "user", "content": "hi"}]}


async def test_claude_chat(http, vertex, oauth, sa_file):
    p = VertexProvider(http, GoogleTokens())
    out = await p.chat(dep(vertex, sa_file), dict(REQ, temperature=0.2), timeout=10)
    assert out["choices"][0]["message"]["content"] == "Hello!" and out["model"] == "grp"
    assert out["usage"]["prompt_tokens"] == 12
    r = vertex.requests[-1]
    assert r["path"] == ("/v1/projects/sa-project/locations/us-east5/publishers/anthropic/models/"
                         "claude-sonnet-4-5@20250929:rawPredict")
    assert r["body"]["anthropic_version"] == "vertex-2023-10-16" and "model" not in r["body"]
    assert r["auth"].startswith("Bearer ya29.fake-")


async def test_claude_stream(http, vertex, sa_file):
    p = VertexProvider(http, GoogleTokens())
    chunks = [c async for c in p.stream(dep(vertex, sa_file, vertex_project="explicit"), REQ, timeout=10)]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello there"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7
    r = vertex.requests[-1]
    assert r["op"] == "streamRawPredict" and r["body"]["stream"] is True and "/projects/explicit/" in r["path"]


async def test_claude_upstream_400_maps_to_invalid_request(http, vertex, sa_file):
    p = VertexProvider(http, GoogleTokens())
    d = dep(vertex, sa_file)
    # whitespace-only stop sequences pass the translator but Anthropic (and the strict fake) reject them
    bad = dict(REQ, stop=["   "])
    with pytest.raises(GatewayError) as ei:
        await p.chat(d, bad, timeout=10)
    assert ei.value.kind is ErrorKind.INVALID_REQUEST and ei.value.upstream_status == 400
    assert "stop_sequences" in ei.value.message


async def test_claude_tool_call_round_trip_through_strict_fake(http, vertex, sa_file):
    vertex.claude_response = lambda body: {
        **claude_message(), "stop_reason": "tool_use",
        "content": [{"type": "tool_use", "id": "toolu_7", "name": "get_weather", "input": {"city": "Oslo"}}]}
    p = VertexProvider(http, GoogleTokens())
    d = dep(vertex, sa_file)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}, "strict": True}}]
    first = await p.chat(d, dict(REQ, tools=tools, tool_choice="required"), timeout=10)
    call = first["choices"][0]["message"]["tool_calls"][0]
    assert first["choices"][0]["finish_reason"] == "tool_calls" and call["id"] == "toolu_7"
    vertex.claude_response = lambda body: claude_message("It is sunny in Oslo.")
    history = REQ["messages"] + [first["choices"][0]["message"],
                                 {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]
    second = await p.chat(d, dict(REQ, messages=history, tools=tools), timeout=10)
    assert second["choices"][0]["message"]["content"] == "It is sunny in Oslo."


async def test_gemini_chat_and_stream_urls(http, vertex, sa_file):
    p = VertexProvider(http, GoogleTokens())
    out = await p.chat(dep(vertex, sa_file, model="gemini-2.5-flash"), REQ, timeout=10)
    assert out["choices"][0]["message"]["content"] == "Hi from Vertex"
    r = vertex.requests[-1]
    assert r["publisher"] == "google" and r["op"] == "generateContent"


async def test_gemini_stream_uses_alt_sse(http, vertex, sa_file):
    p = VertexProvider(http, GoogleTokens())
    chunks = [c async for c in p.stream(dep(vertex, sa_file, model="gemini-2.5-flash"), REQ, timeout=10)]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hi from Vertex" and chunks[-1]["choices"] == []
    r = vertex.requests[-1]
    assert r["op"] == "streamGenerateContent" and r["query"] == "alt=sse" and r["publisher"] == "google"


async def test_embeddings(http, vertex, sa_file):
    p = VertexProvider(http, GoogleTokens())
    out = await p.embed(dep(vertex, sa_file, model="text-embedding-005"),
                        {"model": "grp", "input": ["one two", "three"], "dimensions": 4}, timeout=10)
    assert [len(d["embedding"]) for d in out["data"]] == [4, 4]
    assert out["usage"]["prompt_tokens"] == 3
    assert vertex.requests[-1]["op"] == "predict"
    assert vertex.requests[-1]["body"] == {"instances": [{"content": "one two"}, {"content": "three"}],
                                           "parameters": {"outputDimensionality": 4}}


async def test_401_refreshes_once_and_retries(http, vertex, oauth, sa_file):
    tokens = GoogleTokens()
    p = VertexProvider(http, tokens)
    d = dep(vertex, sa_file)
    await p.chat(d, REQ, timeout=10)
    stale = vertex.requests[-1]["auth"][7:]
    oauth.revoke(stale)  # upstream now answers 401 for the cached token
    out = await p.chat(d, REQ, timeout=10)
    assert out["choices"][0]["message"]["content"] == "Hello!"
    assert oauth.fetches == 2
    assert [r["auth"][7:] == stale for r in vertex.requests] == [True, True, False]


async def test_401_on_stream_refreshes_once(http, vertex, oauth, sa_file):
    tokens = GoogleTokens()
    p = VertexProvider(http, tokens)
    d = dep(vertex, sa_file)
    await p.chat(d, REQ, timeout=10)
    oauth.revoke(vertex.requests[-1]["auth"][7:])
    chunks = [c async for c in p.stream(d, REQ, timeout=10)]
    assert chunks[-1]["choices"] == [] and oauth.fetches == 2


async def test_concurrent_401s_cause_one_refresh(http, vertex, oauth, sa_file):
    p = VertexProvider(http, GoogleTokens())
    d = dep(vertex, sa_file)
    await p.chat(d, REQ, timeout=10)
    oauth.revoke(vertex.requests[-1]["auth"][7:])
    await asyncio.gather(*(p.chat(d, REQ, timeout=10) for _ in range(20)))
    assert oauth.fetches == 2


async def test_persistent_401_is_authentication_error(http, vertex, oauth, sa_file, monkeypatch):
    p = VertexProvider(http, GoogleTokens())
    monkeypatch.setattr(oauth, "is_valid", lambda token: False)
    with pytest.raises(GatewayError) as ei:
        await p.chat(dep(vertex, sa_file, model="gemini-2.5-flash"), REQ, timeout=10)
    assert ei.value.kind is ErrorKind.AUTHENTICATION
    assert oauth.fetches == 2 and len(vertex.requests) == 2
    assert "ya29" not in ei.value.message


async def test_unreachable_upstream(http, oauth, sa_file):
    p = VertexProvider(http, GoogleTokens())
    d = Deployment.model_validate({"model_name": "grp", "litellm_params": {
        "model": "vertex_ai/claude-x", "api_base": "http://127.0.0.1:9", "vertex_credentials": sa_file}})
    with pytest.raises(GatewayError) as ei:
        await p.chat(d, REQ, timeout=5)
    assert ei.value.kind is ErrorKind.BAD_GATEWAY


async def test_claude_embed_not_supported(http, vertex, sa_file):
    with pytest.raises(GatewayError) as ei:
        await VertexProvider(http, GoogleTokens()).embed(dep(vertex, sa_file), {"model": "grp", "input": "x"}, timeout=5)
    assert ei.value.param == "model"
