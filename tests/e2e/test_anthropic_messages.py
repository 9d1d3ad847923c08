"""Anthropic Messages (/v1/messages) end to end with the official anthropic SDK through the real
CLI: Claude on Vertex gets the body passed through (strict fake), Gemini gets a translation
(strict fake); virtual keys in x-api-key or Bearer; errors in Anthropic's shape; spend recorded."""

from __future__ import annotations

import json
import time

import anthropic
import grpc
import httpx
import pytest

from gemgate.anthropic_proto import messages_request_to_proto
from gemgate.v1 import router_pb2_grpc
from tests.e2e.conftest import TEST_KEY
from tests.e2e.gateway import start_gateway, write_config
from tests.fakes.oauth import FakeOAuth, make_service_account, write_service_account
from tests.fakes.server import serving
from tests.fakes.vertex_claude import FakeVertex, claude_message

MASTER = "sk-master-anthropic-test-0123456789"
CLAUDE = "claude-sonnet-4-5@20250929"
SIG = "EqQBCkYIBxgCKkBsig-opaque-signature"


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
    tmp = tmp_path_factory.mktemp("anthropic")
    info = make_service_account(oauth.token_uri, project_id="sa-project")
    oauth.trust(info)
    sa_path = write_service_account(tmp / "sa.json", info)
    gem = {"api_key": "os.environ/FAKE_GEMINI_KEY", "api_base": f"{fake_gemini_server.base_url}/v1beta"}
    cfg = {
        "model_list": [
            {"model_name": "claude", "litellm_params": {"model": f"vertex_ai/{CLAUDE}", "vertex_project": "proj-1",
                                                        "vertex_location": "us-east5", "vertex_credentials": sa_path,
                                                        "api_base": claude_fake.base_url}},
            {"model_name": "gflash", "litellm_params": {"model": "gemini/gemini-2.5-flash", **gem}},
        ],
        "router_settings": {"num_retries": 0},
        "general_settings": {"master_key": MASTER},
    }
    gateway = start_gateway(write_config(tmp, cfg), tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gateway
    assert gateway.stop() == 0, gateway.log()


@pytest.fixture(scope="module")
def key(gw):
    r = httpx.post(f"{gw.base_url}/key/generate", json={"max_budget": 5, "models": ["claude", "gflash"]},
                   headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["key"]


@pytest.fixture
def client(gw, key):
    return anthropic.Anthropic(base_url=gw.base_url, api_key=key, max_retries=0, timeout=30)


@pytest.fixture
def fake_claude(claude_fake):
    claude_fake.requests.clear()
    yield claude_fake
    claude_fake.claude_response = lambda body: claude_message()
    from tests.fakes.vertex_claude import claude_text_events
    claude_fake.claude_events = lambda body: claude_text_events()
    claude_fake.claude_burst = False


def spend(gw, key, above=0.0, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers={"Authorization": f"Bearer {MASTER}"})
        value = r.json()["info"]["spend"]
        if value > above or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_claude_unary_passes_the_body_through(client, fake_claude, gw, key):
    before = spend(gw, key, timeout=0)
    msg = client.messages.create(
        model="claude", max_tokens=300, extra_body={"top_k": 5}, stop_sequences=["END"], metadata={"user_id": "u-1"},
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]}],
    )
    assert msg.content[0].text == "Hello!" and msg.stop_reason == "end_turn" and msg.model == "claude"
    assert msg.usage.input_tokens == 12 and msg.usage.output_tokens == 5
    sent = fake_claude.requests[-1]
    assert sent["op"] == "rawPredict" and sent["publisher"] == "anthropic" and sent["model"] == CLAUDE
    body = sent["body"]
    assert "model" not in body and body["anthropic_version"] == "vertex-2023-10-16"
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["top_k"] == 5 and body["stop_sequences"] == ["END"] and body["metadata"] == {"user_id": "u-1"}
    assert isinstance(body["max_tokens"], int) and isinstance(body["top_k"], int)
    assert spend(gw, key, above=before) > before  # priced and settled like chat


def test_claude_stream_passes_events_through(client, fake_claude):
    with client.messages.stream(model="claude", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello there"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 7
    assert fake_claude.requests[-1]["op"] == "streamRawPredict" and fake_claude.requests[-1]["body"]["stream"] is True


def test_claude_raw_sse_has_ping_and_message_delta_usage(gw, key, fake_claude):
    with httpx.stream("POST", f"{gw.base_url}/v1/messages", headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                      json={"model": "claude", "max_tokens": 50, "stream": True,
                            "messages": [{"role": "user", "content": "Hi"}]}, timeout=30) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line.startswith("event: ")]
    names = [line[7:] for line in lines]
    assert names[0] == "message_start" and "ping" in names and names[-2:] == ["message_delta", "message_stop"]


def test_batched_stream_carries_the_same_events_in_fewer_messages(gw, key, fake_claude):
    """The facade's StreamAnthropicMessagesBatched: a burst of upstream events in fewer gRPC messages,
    the very events of StreamAnthropicMessages in order, the route facts on the first message only."""
    fake_claude.claude_burst = True
    req = messages_request_to_proto({"model": "claude", "max_tokens": 50, "stream": True,
                                     "messages": [{"role": "user", "content": "Hi"}]})
    md = (*gw.internal_metadata, ("authorization", f"Bearer {key}"))
    with grpc.insecure_channel(gw.router_address) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        batches = list(stub.StreamAnthropicMessagesBatched(req, metadata=md, timeout=30))
        singles = list(stub.StreamAnthropicMessages(req, metadata=md, timeout=30))
    events = [e for b in batches for e in b.events]
    assert all(b.events for b in batches) and len(batches) < len(events)
    assert [e.type for e in events] == [e.type for e in singles] and events[0].type == "message_start"
    assert [e.data for e in events[1:]] == [e.data for e in singles[1:]]  # message_start differs in its id only
    route = dict(batches[0].route)
    assert route["x-gemgate-model-group"] == "claude" and route["x-gemgate-request-id"]
    assert all(not b.route for b in batches[1:])
    with httpx.stream("POST", f"{gw.base_url}/v1/messages", headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                      json={"model": "claude", "max_tokens": 50, "stream": True,
                            "messages": [{"role": "user", "content": "Hi"}]}, timeout=30) as r:
        assert r.status_code == 200 and r.headers["x-gemgate-model-group"] == "claude"
        names = [line[7:] for line in r.iter_lines() if line.startswith("event: ")]
    assert names == [e.type for e in singles]


def test_tool_loop_with_thinking_like_claude_code(client, fake_claude):
    tools = [{"name": "read_file", "description": "Read a file", "input_schema": {
        "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}]

    def answer(body):
        last = body["messages"][-1]["content"]
        if isinstance(last, list) and last and last[0].get("type") == "tool_result":
            return {**claude_message("The file says hi."), "content": [{"type": "text", "text": "The file says hi."}]}
        return {**claude_message(""), "stop_reason": "tool_use", "content": [
            {"type": "thinking", "thinking": "I should read it.", "signature": SIG},
            {"type": "tool_use", "id": "toolu_01", "name": "read_file", "input": {"path": "a.txt"}}]}

    fake_claude.claude_response = answer
    first = client.messages.create(model="claude", max_tokens=2048, tools=tools,
                                   thinking={"type": "enabled", "budget_tokens": 1024},
                                   messages=[{"role": "user", "content": "What is in a.txt?"}])
    assert first.stop_reason == "tool_use"
    assert first.content[0].type == "thinking" and first.content[0].signature == SIG
    assert first.content[1].type == "tool_use" and first.content[1].input == {"path": "a.txt"}
    second = client.messages.create(
        model="claude", max_tokens=2048, tools=tools, thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "What is in a.txt?"},
                  {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "hi"}]}])
    assert second.content[0].text == "The file says hi."
    sent = fake_claude.requests[-1]["body"]["messages"][1]["content"]
    assert sent[0] == {"type": "thinking", "thinking": "I should read it.", "signature": SIG}  # signed, unchanged


def test_gemini_unary_stream_and_count(client, fake_gemini):
    msg = client.messages.create(model="gflash", max_tokens=64, system="Be brief.", extra_body={"top_k": 3, "temperature": 0.5},
                                 messages=[{"role": "user", "content": "hello gemini"}])
    assert msg.content[0].text == "echo: hello gemini" and msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    body = fake_gemini.requests[-1]["body"]
    assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    assert body["generationConfig"]["topK"] == 3 and body["generationConfig"]["maxOutputTokens"] == 64
    with client.messages.stream(model="gflash", max_tokens=64, messages=[{"role": "user", "content": "s g"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: s g" and final.usage.output_tokens > 0


def test_gemini_tools_translated(client, fake_gemini):
    fake_gemini.enqueue("gemini-2.5-flash", {"body": {
        "candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"id": "fc1", "name": "get_weather", "args": {"city": "Paris"}}}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}}})
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    msg = client.messages.create(model="gflash", max_tokens=100, tools=tools, tool_choice={"type": "any"},
                                 messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert msg.stop_reason == "tool_use"
    call = msg.content[-1]
    assert call.type == "tool_use" and call.name == "get_weather" and call.input == {"city": "Paris"}
    sent = fake_gemini.requests[-1]["body"]
    assert sent["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    follow = client.messages.create(model="gflash", max_tokens=100, tools=tools, messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [c.model_dump(exclude_none=True) for c in msg.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"},
                                     {"type": "text", "text": "thanks"}]}])
    assert follow.content[0].text == "echo: thanks"
    contents = fake_gemini.requests[-1]["body"]["contents"]
    assert contents[1]["parts"][0]["functionCall"]["name"] == "get_weather"
    assert contents[2]["parts"][0]["functionResponse"]["response"] == {"result": "sunny"}


def test_untranslatable_field_is_a_400_naming_it(client, fake_gemini):
    with pytest.raises(anthropic.BadRequestError) as exc:
        client.messages.create(model="gflash", max_tokens=10, messages=[{"role": "user", "content": "x"}],
                               tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert exc.value.body["type"] == "error" and exc.value.body["error"]["type"] == "invalid_request_error"
    assert "tools.0.type" in exc.value.body["error"]["message"]
    assert fake_gemini.requests == []  # nothing went upstream
    msg = client.messages.create(model="gflash", max_tokens=10, messages=[{"role": "user", "content": "dropped"}],
                                 tools=[{"type": "web_search_20250305", "name": "web_search"}],
                                 extra_body={"drop_params": True})
    assert msg.content[0].text == "echo: dropped"


def test_keys_and_error_shapes(gw, key, fake_claude):
    url = f"{gw.base_url}/v1/messages"
    body = {"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    bad = httpx.post(url, json=body, headers={"x-api-key": "sk-wrong"})
    assert bad.status_code == 401 and bad.json()["type"] == "error"
    assert bad.json()["error"]["type"] == "authentication_error"
    missing = httpx.post(url, json={"model": "claude", "messages": "nope"}, headers={"x-api-key": key})
    assert missing.status_code == 400 and missing.json()["error"]["type"] == "invalid_request_error"
    unknown = httpx.post(url, json={**body, "model": "nope"}, headers={"x-api-key": key})
    assert unknown.status_code in (403, 404) and unknown.json()["type"] == "error"
    upstream = httpx.post(url, json={**body, "temperature": 1.5}, headers={"x-api-key": key})  # Claude rejects > 1
    assert upstream.status_code == 400 and upstream.json()["error"]["type"] == "invalid_request_error"
    assert key not in upstream.text


def test_count_tokens(client, fake_claude, fake_gemini):
    counted = client.messages.count_tokens(model="claude", messages=[{"role": "user", "content": "count me"}])
    assert counted.input_tokens > 0
    sent = fake_claude.requests[-1]
    assert sent["model"] == "count-tokens" and sent["body"]["model"] == CLAUDE


def test_vertex_shaped_claude_paths_like_claude_code_on_vertex(gw, key, fake_claude):
    client = anthropic.AnthropicVertex(region="us-east5", project_id="client-project", access_token=key,
                                       base_url=f"{gw.base_url}/vertex_ai/v1", max_retries=0, timeout=30)
    msg = client.messages.create(model="claude", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == "Hello!"
    sent = fake_claude.requests[-1]
    assert sent["path"].startswith("/v1/projects/proj-1/locations/us-east5/")  # the deployment's, not the client's
    assert "model" not in sent["body"] and sent["body"]["anthropic_version"] == "vertex-2023-10-16"
    with client.messages.stream(model="claude", max_tokens=20, messages=[{"role": "user", "content": "hi"}]) as stream:
        assert "".join(stream.text_stream) == "Hello there"
    assert client.messages.count_tokens(model="claude", messages=[{"role": "user", "content": "hi"}]).input_tokens > 0
    with pytest.raises(anthropic.APIStatusError) as exc:
        client.messages.create(model="claude-opus-4@x", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert exc.value.status_code in (403, 404)  # only configured model groups are reachable


def test_gemini_streamed_tool_loop_with_thinking_like_claude_code(client, fake_gemini):
    """Claude Code's loop against a Gemini group: streamed thinking + tool_use, then the assistant turn
    (thinking blocks included) and the tool_result sent back; Gemini gets its thought signature back."""
    fake_gemini.enqueue("gemini-2.5-flash", {"sse": [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Let me look.", "thought": True}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"id": "fc9", "name": "read_file", "args": {"path": "a.txt"}}, "thoughtSignature": "U0lH"}]},
            "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4, "thoughtsTokenCount": 3, "totalTokenCount": 16}}]})
    tools = [{"name": "read_file", "description": "Read", "input_schema": {
        "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}]
    ask = [{"role": "user", "content": "What is in a.txt?"}]
    with client.messages.stream(model="gflash", max_tokens=4096, tools=tools, messages=ask,
                                thinking={"type": "enabled", "budget_tokens": 2048}) as stream:
        first = stream.get_final_message()
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    assert first.content[0].thinking == "Let me look." and first.stop_reason == "tool_use"
    call = first.content[1]
    assert call.input == {"path": "a.txt"} and first.usage.output_tokens == 7
    sent = fake_gemini.requests[-1]["body"]
    assert sent["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048, "includeThoughts": True}
    with client.messages.stream(model="gflash", max_tokens=4096, tools=tools,
                                thinking={"type": "enabled", "budget_tokens": 2048}, messages=[
                                    *ask, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "hi"},
                                                                 {"type": "text", "text": "summarise"}]}]) as stream:
        second = stream.get_final_message()
    assert second.content[-1].text == "echo: summarise"
    model_turn = fake_gemini.requests[-1]["body"]["contents"][1]
    assert model_turn["parts"] == [{"functionCall": {"id": "fc9", "name": "read_file", "args": {"path": "a.txt"}},
                                    "thoughtSignature": "U0lH"}]
