"""Issue 3 end to end: the openai client through the gateway against the strict fake Gemini."""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest

MODEL = "gemini-2.5-flash"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "strict": True,
        "parameters": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "city": {"type": "string"},
                "unit": {"anyOf": [{"type": "string", "enum": ["c", "f"]}, {"type": "null"}]},
                "when": {"$ref": "#/$defs/when"},
            },
            "required": ["city", "unit", "when"],
            "$defs": {"when": {"type": "object", "properties": {"day": {"type": "string", "const": "today"}}, "required": ["day"], "additionalProperties": False}},
        },
    },
}


def call_response(*calls, signature: str | None = None, text: str | None = None) -> dict:
    parts = []
    if text:
        parts.append({"text": text})
    for i, (name, args) in enumerate(calls):
        part = {"functionCall": {"name": name, "args": args}}
        if signature and i == 0:
            part["thoughtSignature"] = signature
        parts.append(part)
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "responseId": "r1",
    }


def last_body(fake) -> dict:
    return fake.requests[-1]["body"]


def test_tool_call_round_trip(client, fake_gemini):
    fake_gemini.enqueue(MODEL, {"status": 200, "body": call_response(("get_weather", {"city": "Paris", "unit": "c", "when": {"day": "today"}}))})
    messages = [{"role": "user", "content": "weather in Paris?"}]
    resp = client.chat.completions.create(model="flash", messages=messages, tools=[WEATHER_TOOL], tool_choice="required")
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "c", "when": {"day": "today"}}
    sent = last_body(fake_gemini)
    decl = sent["tools"][0]["functionDeclarations"][0]
    assert decl["name"] == "get_weather"
    assert sent["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"

    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp": 21})}]
    final = client.chat.completions.create(model="flash", messages=messages, tools=[WEATHER_TOOL])
    assert final.choices[0].finish_reason == "stop"
    contents = last_body(fake_gemini)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    fr = contents[2]["parts"][0]["functionResponse"]
    assert fr["name"] == "get_weather" and fr["response"] == {"temp": 21}


def test_parallel_calls_and_results_in_one_turn(client, fake_gemini):
    fake_gemini.enqueue(MODEL, {"status": 200, "body": call_response(("get_weather", {"city": "A"}), ("get_weather", {"city": "B"}))})
    messages = [{"role": "user", "content": "two cities"}]
    resp = client.chat.completions.create(model="flash", messages=messages, tools=[WEATHER_TOOL])
    calls = resp.choices[0].message.tool_calls
    assert [json.loads(c.function.arguments)["city"] for c in calls] == ["A", "B"]
    assert len({c.id for c in calls}) == 2
    messages.append(resp.choices[0].message.model_dump(exclude_none=True))
    messages += [{"role": "tool", "tool_call_id": c.id, "content": f"sunny in {json.loads(c.function.arguments)['city']}"} for c in calls]
    client.chat.completions.create(model="flash", messages=messages, tools=[WEATHER_TOOL])
    contents = last_body(fake_gemini)["contents"]
    assert len(contents) == 3
    responses = [p["functionResponse"] for p in contents[2]["parts"]]
    assert [r["response"] for r in responses] == [{"result": "sunny in A"}, {"result": "sunny in B"}]


def test_streaming_tool_calls(client, fake_gemini):
    events = [
        {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "A"}}},
                                                                  {"functionCall": {"name": "get_weather", "args": {"city": "B"}}}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7}},
    ]
    fake_gemini.enqueue(MODEL, {"sse": events})
    chunks = list(client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL], stream=True))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert [d.index for d in deltas] == [0, 1]
    assert all(d.id and d.type == "function" for d in deltas)
    assert [json.loads(d.function.arguments)["city"] for d in deltas] == ["A", "B"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_thought_signature_round_trip(client, fake_gemini):
    fake_gemini.enqueue("gemini-3-pro-preview", {"status": 200, "body": call_response(("get_weather", {"city": "A"}), signature="c2lnbmF0dXJlLWJ5dGVz")})
    messages = [{"role": "user", "content": "x"}]
    resp = client.chat.completions.create(model="g3", messages=messages, tools=[WEATHER_TOOL])
    call = resp.choices[0].message.tool_calls[0]
    messages += [resp.choices[0].message.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": call.id, "content": "ok"}]
    client.chat.completions.create(model="g3", messages=messages, tools=[WEATHER_TOOL])
    model_turn = last_body(fake_gemini)["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] == "c2lnbmF0dXJlLWJ5dGVz"


def test_unknown_tool_call_id_is_400(client):
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="flash", messages=[
            {"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_nope", "content": "r"}])
    assert "messages[1]" in (exc.value.body.get("param") or "")


PNG_1PX = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


def test_image_data_uri_and_gs(client, fake_gemini):
    client.chat.completions.create(model="flash", messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
        {"type": "image_url", "image_url": {"url": "gs://bucket/cat.jpg"}},
    ]}])
    parts = last_body(fake_gemini)["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG_1PX}}
    assert parts[2]["fileData"]["fileUri"] == "gs://bucket/cat.jpg"
    assert parts[2]["fileData"]["mimeType"] == "image/jpeg"


def test_ssrf_guard_blocks_loopback(client, fake_gemini):
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="flash", messages=[{"role": "user", "content": [
            {"type": "text", "text": "x"},
            {"type": "image_url", "image_url": {"url": f"{fake_gemini.base_url}/secret.png"}},
        ]}])
    assert "messages[0].content[1]" in (exc.value.body.get("param") or "")
    assert fake_gemini.requests == []


def test_audio_and_pdf_parts(client, fake_gemini):
    wav = base64.b64encode(b"RIFF....WAVEfmt ").decode()
    pdf = base64.b64encode(b"%PDF-1.4 tiny").decode()
    client.chat.completions.create(model="flash", messages=[{"role": "user", "content": [
        {"type": "text", "text": "listen and read"},
        {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{pdf}", "filename": "a.pdf"}},
    ]}])
    parts = last_body(fake_gemini)["contents"][0]["parts"]
    assert parts[1]["inlineData"]["mimeType"].startswith("audio/")
    assert parts[2]["inlineData"] == {"mimeType": "application/pdf", "data": pdf}


def test_json_modes(client, fake_gemini):
    client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "json"}], response_format={"type": "json_object"})
    assert last_body(fake_gemini)["generationConfig"]["responseMimeType"] == "application/json"
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False}
    client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "json"}],
                                   response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema, "strict": True}})
    gen = last_body(fake_gemini)["generationConfig"]
    assert gen["responseMimeType"] == "application/json"
    assert ("responseJsonSchema" in gen) != ("responseSchema" in gen)


def test_params_mapped(client, fake_gemini):
    resp = client.chat.completions.create(
        model="flash", messages=[{"role": "user", "content": "p"}], temperature=0.3, top_p=0.8,
        max_completion_tokens=77, n=2, stop=["END"], seed=42, presence_penalty=0.5, frequency_penalty=0.25,
    )
    gen = last_body(fake_gemini)["generationConfig"]
    assert gen == {"temperature": 0.3, "topP": 0.8, "maxOutputTokens": 77, "candidateCount": 2, "stopSequences": ["END"],
                   "seed": 42, "presencePenalty": 0.5, "frequencyPenalty": 0.25}
    assert [c.index for c in resp.choices] == [0, 1]


def test_unsupported_param_and_drop_params(client, fake_gemini):
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "p"}], logit_bias={"1": 2})
    assert exc.value.body["param"] == "logit_bias"
    resp = client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "p"}], logit_bias={"1": 2},
                                          extra_body={"drop_params": True})
    assert resp.choices[0].message.content == "echo: p"


def test_reasoning_effort_and_usage_details(client, fake_gemini):
    body = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "thinking...", "thought": True}, {"text": "42"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 100, "cachedContentTokenCount": 60, "candidatesTokenCount": 2, "thoughtsTokenCount": 30, "totalTokenCount": 132},
    }
    fake_gemini.enqueue(MODEL, {"status": 200, "body": body})
    resp = client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "q"}], reasoning_effort="low")
    assert "thinkingConfig" in last_body(fake_gemini)["generationConfig"]
    assert resp.choices[0].message.content == "42"
    assert resp.usage.prompt_tokens == 100 and resp.usage.completion_tokens == 32 and resp.usage.total_tokens == 132
    assert resp.usage.prompt_tokens_details.cached_tokens == 60
    assert resp.usage.completion_tokens_details.reasoning_tokens == 30


def test_safety_settings_and_blocks(client, fake_gemini):
    client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "s"}],
                                   extra_body={"safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]})
    assert {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"} in last_body(fake_gemini)["safetySettings"]
    fake_gemini.enqueue(MODEL, {"status": 200, "body": {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}}})
    resp = client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "bad"}])
    assert resp.choices[0].finish_reason == "content_filter" and resp.choices[0].message.content is None
    fake_gemini.enqueue(MODEL, {"status": 200, "body": {"candidates": [{"finishReason": "SAFETY", "index": 0}]}})
    resp = client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "bad"}])
    assert resp.choices[0].finish_reason == "content_filter"


def test_context_length_error_code(client, fake_gemini):
    fake_gemini.enqueue(MODEL, {"status": 400, "body": {"error": {"code": 400, "status": "INVALID_ARGUMENT",
        "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."}}})
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "long"}])
    assert exc.value.code == "context_length_exceeded"


def test_embeddings(client, fake_gemini):
    one = client.embeddings.create(model="embed", input="hello")
    assert len(one.data) == 1 and len(one.data[0].embedding) == 768
    batch = client.embeddings.create(model="embed", input=["a", "b", "c"], dimensions=8)
    assert [d.index for d in batch.data] == [0, 1, 2] and all(len(d.embedding) == 8 for d in batch.data)
    assert batch.data[0].embedding != batch.data[1].embedding
    b64 = httpx.post(f"{client.base_url}embeddings", json={"model": "embed", "input": "hello", "encoding_format": "base64"}).json()
    assert isinstance(b64["data"][0]["embedding"], str)


@pytest.fixture(scope="module")
def media_server():
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse, Response
    from starlette.routing import Route

    png = base64.b64decode(PNG_1PX)

    async def image(request):
        return Response(png, media_type="image/png")

    async def html(request):
        return Response(b"<html></html>", media_type="text/html")

    async def redirect(request):
        return RedirectResponse("/cat.png", status_code=302)

    from tests.fakes.server import run_in_thread

    handle = run_in_thread(Starlette(routes=[Route("/cat.png", image), Route("/page", html), Route("/go", redirect)]))
    yield handle.base_url
    handle.stop()


@pytest.fixture(scope="module")
def media_client(fake_gemini_server, tmp_path_factory):
    from tests.e2e.conftest import TEST_KEY, gemini_config
    from tests.e2e.gateway import start_gateway, write_config

    tmp = tmp_path_factory.mktemp("media")
    cfg = gemini_config(fake_gemini_server.base_url, media_allowed_networks=["127.0.0.0/8"])
    gw = start_gateway(write_config(tmp, cfg), tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key="x", max_retries=0)
    assert gw.stop() == 0, gw.log()


def test_https_image_fetched_and_inlined_when_network_allowed(media_client, media_server, fake_gemini):
    for path in ("/cat.png", "/go"):
        media_client.chat.completions.create(model="flash", messages=[{"role": "user", "content": [
            {"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": media_server + path}}]}])
        assert last_body(fake_gemini)["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PNG_1PX}}
    with pytest.raises(openai.BadRequestError) as exc:
        media_client.chat.completions.create(model="flash", messages=[{"role": "user", "content": [
            {"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": media_server + "/page"}}]}])
    assert exc.value.body["param"] == "messages[0].content[1]"
