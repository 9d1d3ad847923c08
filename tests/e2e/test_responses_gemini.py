"""OpenAI Responses API end to end: the official openai client through the real CLI against the
strict fake Gemini (AI Studio), and the OpenAI Agents SDK: create, stream, tool loops (previous_response_id and full input),
stored responses (get, delete, input_items, per key), refusals naming the field."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import agents
import pytest
from openai import AsyncOpenAI

from tests.e2e.test_gemini_fidelity import MODEL, call_response, last_body

TOOL = {"type": "function", "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def test_create_text_and_get(client, fake_gemini, gateway):
    resp = client.responses.create(model="flash", input="hello there", instructions="be brief",
                                   temperature=0.3, max_output_tokens=50, metadata={"k": "v"})
    assert resp.object == "response" and resp.id.startswith("resp_")
    assert resp.status == "completed"
    assert resp.output_text == "echo: hello there"
    assert resp.output[0].type == "message" and resp.output[0].role == "assistant"
    assert resp.usage.input_tokens > 0 and resp.usage.output_tokens == 3
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    assert resp.instructions == "be brief" and resp.temperature == 0.3 and resp.max_output_tokens == 50
    assert resp.metadata == {"k": "v"}
    sent = last_body(fake_gemini)
    assert sent["systemInstruction"]["parts"][0]["text"] == "be brief"
    assert sent["generationConfig"]["maxOutputTokens"] == 50
    got = client.responses.retrieve(resp.id)
    assert got.id == resp.id and got.output_text == resp.output_text
    items = client.responses.input_items.list(resp.id)
    assert [i.type for i in items.data] == ["message"]
    assert items.data[0].content[0].text == "hello there"


def test_stream_event_sequence(client, fake_gemini):
    with client.responses.stream(model="flash", input="stream me") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    for needed in ("response.output_item.added", "response.content_part.added", "response.output_text.delta",
                   "response.output_text.done", "response.content_part.done", "response.output_item.done"):
        assert needed in types
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "echo: stream me"
    assert final.output_text == "echo: stream me" and final.status == "completed"
    assert final.usage.output_tokens == 3
    # the streamed response was stored and can be continued
    assert client.responses.retrieve(final.id).output_text == "echo: stream me"


def test_tool_loop_previous_response_id(client, fake_gemini):
    fake_gemini.enqueue(MODEL, {"status": 200, "body": call_response(("get_weather", {"city": "Paris"}))})
    first = client.responses.create(model="flash", input="weather in Paris?", tools=[TOOL], tool_choice="auto")
    (call,) = [o for o in first.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"} and call.call_id
    second = client.responses.create(model="flash", previous_response_id=first.id, tools=[TOOL],
                                     input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    contents = last_body(fake_gemini)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"][0]["functionCall"]["name"] == "get_weather"
    assert contents[2]["parts"][0]["functionResponse"]["name"] == "get_weather"
    assert second.previous_response_id == first.id
    # input_items of the second response: the whole context (newest first by default)
    items = client.responses.input_items.list(second.id, order="asc")
    assert [i.type for i in items.data] == ["message", "function_call", "function_call_output"]


def test_tool_loop_full_input_stream(client, fake_gemini):
    fake_gemini.enqueue(MODEL, {"sse": [call_response(("get_weather", {"city": "Rome"}))]})
    with client.responses.stream(model="flash", input="weather in Rome?", tools=[TOOL], store=False) as stream:
        events = list(stream)
        first = stream.get_final_response()
    types = [e.type for e in events]
    assert "response.function_call_arguments.delta" in types and "response.function_call_arguments.done" in types
    (call,) = [o for o in first.output if o.type == "function_call"]
    assert json.loads(call.arguments) == {"city": "Rome"}
    with pytest.raises(openai.NotFoundError):  # store=false: nothing kept
        client.responses.retrieve(first.id)
    inp = [{"role": "user", "content": "weather in Rome?"}, *[o.model_dump(exclude_none=True) for o in first.output],
           {"type": "function_call_output", "call_id": call.call_id, "output": "rainy"}]
    second = client.responses.create(model="flash", input=inp, tools=[TOOL])
    assert second.status == "completed"
    contents = last_body(fake_gemini)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]


def test_json_schema_and_parallel_calls(client, fake_gemini):
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False}
    client.responses.create(model="flash", input="json please",
                            text={"format": {"type": "json_schema", "name": "obj", "schema": schema, "strict": True}})
    gc = last_body(fake_gemini)["generationConfig"]
    assert gc["responseMimeType"] == "application/json" and gc["responseJsonSchema"]["required"] == ["a"]
    client.responses.create(model="flash", input="json object", text={"format": {"type": "json_object"}})
    assert last_body(fake_gemini)["generationConfig"]["responseMimeType"] == "application/json"


def test_refusals_name_the_field(client, fake_gemini):
    before = len(fake_gemini.requests)
    cases = [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"background": True}, "background"),
        ({"include": ["message.output_text.logprobs"]}, "include[0]"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        ({"previous_response_id": "resp_doesnotexist"}, "previous_response_id"),
        ({"text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
    ]
    for extra, param in cases:
        body = {"model": "flash", "input": "x", **extra}
        with pytest.raises((openai.BadRequestError, openai.NotFoundError)) as exc:
            client.responses.create(**body)
        assert exc.value.body["param"] == param, (extra, exc.value.body)
    assert len(fake_gemini.requests) == before  # nothing went upstream
    # drop_params (request) drops the refusable ones
    resp = client.responses.create(model="flash", input="dropped", tools=[{"type": "web_search"}],
                                   extra_body={"background": True, "drop_params": True})
    assert resp.output_text == "echo: dropped"


def test_errors_use_openai_envelope(gateway):
    r = httpx.post(f"{gateway.base_url}/v1/responses", json={"model": "flash", "input": 5}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["param"] == "input"
    r = httpx.post(f"{gateway.base_url}/v1/responses", json={"model": "nope", "input": "x"}, timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    r = httpx.get(f"{gateway.base_url}/v1/responses/resp_missing", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"


def test_upstream_failure_in_stream_is_response_failed(client, fake_gemini):
    fake_gemini.enqueue(MODEL, {"sse": [{"candidates": [{"content": {"role": "model", "parts": [{"text": "par"}]}, "index": 0}]}],
                                "close_early": True})
    with client.responses.stream(model="flash", input="x") as stream:
        events = list(stream)
    assert events[-1].type == "response.failed"
    assert events[-1].response.status == "failed" and events[-1].response.error.message


def test_delete_and_keys_are_isolated(gateway, fake_gemini):
    a = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="key-a", max_retries=0)
    b = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="key-b", max_retries=0)
    resp = a.responses.create(model="flash", input="mine")
    with pytest.raises(openai.NotFoundError):
        b.responses.retrieve(resp.id)
    with pytest.raises(openai.NotFoundError):
        b.responses.create(model="flash", input="steal", previous_response_id=resp.id)
    with pytest.raises(openai.NotFoundError):
        b.responses.delete(resp.id)
    a.responses.delete(resp.id)
    with pytest.raises(openai.NotFoundError):
        a.responses.retrieve(resp.id)


def test_codex_shaped_turns_with_thoughts(client, fake_gemini):
    """What Codex CLI sends: instructions, developer + user messages, function tools, reasoning with
    summaries, store=false, include encrypted reasoning, a prompt_cache_key, streaming, full input."""
    body = {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Planning the call.", "thought": True},
        {"functionCall": {"name": "shell", "args": {"command": ["ls"]}}, "thoughtSignature": "c2lnbmF0dXJl"}]},
        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 4, "totalTokenCount": 19}}
    fake_gemini.enqueue("gemini-3-pro-preview", {"sse": [body]})
    shell = {"type": "function", "name": "shell", "strict": False,
             "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}}}
    common = dict(model="g3", instructions="You are Codex.", tools=[shell], tool_choice="auto", parallel_tool_calls=False,
                  reasoning={"effort": "medium", "summary": "auto"}, store=False, include=["reasoning.encrypted_content"],
                  extra_body={"prompt_cache_key": "thread-1", "drop_params": True})
    inp = [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox: read-only"}]},
           {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]}]
    with client.responses.stream(input=inp, **common) as stream:
        events = list(stream)
        first = stream.get_final_response()
    assert "response.reasoning_summary_text.delta" in [e.type for e in events]
    reasoning, call = first.output
    assert reasoning.summary[0].text == "Planning the call." and call.name == "shell"
    assert first.usage.output_tokens_details.reasoning_tokens == 4
    sent = last_body(fake_gemini)
    assert sent["generationConfig"]["thinkingConfig"]["includeThoughts"] is True
    assert "prompt_cache_key" not in json.dumps(sent)
    inp += [o.model_dump(exclude_none=True) for o in first.output]
    inp.append({"type": "function_call_output", "call_id": call.call_id, "output": "README.md"})
    with client.responses.stream(input=inp, **common) as stream:
        final = stream.get_final_response()
    assert final.status == "completed"
    model_turn = last_body(fake_gemini)["contents"][1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0]["functionCall"]["name"] == "shell"
    assert model_turn["parts"][0]["thoughtSignature"] == "c2lnbmF0dXJl"  # carried in the call_id


def test_bad_response_ids_are_400(gateway):
    for rid in ("a" * 200, "resp:x*"):
        r = httpx.get(f"{gateway.base_url}/v1/responses/{rid}", timeout=10)
        assert r.status_code == 400 and r.json()["error"]["param"] == "response_id"
        r = httpx.post(f"{gateway.base_url}/v1/responses", json={"model": "flash", "input": "x", "previous_response_id": rid}, timeout=10)
        assert r.status_code == 400 and r.json()["error"]["param"] == "previous_response_id"
    r = httpx.get(f"{gateway.base_url}/v1/responses/resp_x/input_items?limit=1000", timeout=10)
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
    r = httpx.get(f"{gateway.base_url}/v1/responses/resp_x/input_items?limit=abc", timeout=10)
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"


def test_input_items_pagination(client):
    inp = [{"role": "user", "content": f"m{i}"} for i in range(5)]
    resp = client.responses.create(model="flash", input=inp)
    page = client.responses.input_items.list(resp.id, limit=2, order="asc")
    assert [i.content[0].text for i in page.data] == ["m0", "m1"] and page.has_more
    nxt = client.responses.input_items.list(resp.id, limit=2, order="asc", after=page.last_id)
    assert [i.content[0].text for i in nxt.data] == ["m2", "m3"]
    every = [i.content[0].text for i in client.responses.input_items.list(resp.id, limit=2)]  # auto-paging, newest first
    assert every == ["m4", "m3", "m2", "m1", "m0"]


# ---------------------------------------------------------------- the OpenAI Agents SDK

def _agent(gateway):
    calls = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Weather for a city."""
        calls.append(city)
        return f"sunny in {city}"

    client = AsyncOpenAI(base_url=f"{gateway.base_url}/v1", api_key="agent-key", max_retries=0)
    model = agents.OpenAIResponsesModel(model="flash", openai_client=client)
    return agents.Agent(name="weather", instructions="Use the tool.", model=model, tools=[get_weather]), calls


@pytest.fixture
def _no_tracing():
    agents.set_tracing_disabled(True)
    yield


def test_agents_sdk_tool_loop(gateway, fake_gemini, _no_tracing):
    fake_gemini.enqueue(MODEL, {"status": 200, "body": call_response(("get_weather", {"city": "Oslo"}))})
    agent, calls = _agent(gateway)
    result = asyncio.run(agents.Runner.run(agent, "weather in Oslo?"))
    assert calls == ["Oslo"]
    contents = last_body(fake_gemini)["contents"]
    assert contents[-1]["parts"][0]["functionResponse"]["response"]
    assert "sunny in Oslo" in str(contents[-1])
    assert result.final_output.startswith("echo:")


def test_agents_sdk_streamed(gateway, fake_gemini, _no_tracing):
    fake_gemini.enqueue(MODEL, {"sse": [call_response(("get_weather", {"city": "Lima"}))]})
    agent, calls = _agent(gateway)

    async def run():
        streamed = agents.Runner.run_streamed(agent, "weather in Lima?")
        kinds = [ev.type async for ev in streamed.stream_events()]
        return streamed, kinds

    streamed, kinds = asyncio.run(run())
    assert calls == ["Lima"]
    assert "raw_response_event" in kinds
    assert streamed.final_output.startswith("echo:")
