"""The official openai client through the running gateway against the strict fake Gemini."""

from __future__ import annotations

import httpx
import openai
import pytest

GOOGLE_429 = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED",
                        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}
GOOGLE_500 = {"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}


def test_completion(client, fake_gemini):
    resp = client.chat.completions.create(
        model="flash",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}],
        max_tokens=50, temperature=0.2,
    )
    assert resp.choices[0].message.content == "echo: hello there"
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "flash"
    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.usage.completion_tokens == 3
    assert resp.usage.prompt_tokens == 5
    assert resp.usage.total_tokens == 8
    sent = fake_gemini.requests[-1]
    assert sent["model"] == "gemini-2.5-flash" and sent["op"] == "generateContent"
    assert sent["headers"]["x-goog-api-key"] == "test-key"
    assert "key" not in sent["query"]
    assert sent["body"]["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert sent["body"]["contents"] == [{"role": "user", "parts": [{"text": "hello there"}]}]
    assert sent["body"]["generationConfig"] == {"maxOutputTokens": 50, "temperature": 0.2}


def test_completion_response_headers(client, fake_gemini):
    raw = client.chat.completions.with_raw_response.create(model="flash", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-gemgate-model-group"] == "flash"
    assert raw.headers["x-gemgate-model-id"] == "flash-0"
    assert raw.headers["x-gemgate-attempts"] == "1"
    assert raw.headers["x-gemgate-request-id"]


def test_stream(client, fake_gemini):
    stream = client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "stream me please"}], stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    assert len({c.id for c in chunks}) == 1
    sent = fake_gemini.requests[-1]
    assert sent["op"] == "streamGenerateContent" and sent["query"] == {"alt": "sse"}


def test_stream_include_usage(client, fake_gemini):
    stream = client.chat.completions.create(
        model="flash", messages=[{"role": "user", "content": "count my tokens"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 4
    assert chunks[-1].usage.completion_tokens == 4
    assert chunks[-1].usage.total_tokens == 8
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_stream_wire_ends_with_done(gateway, fake_gemini):
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions",
                      json={"model": "flash", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        body = r.read().decode()
    events = [e for e in body.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)


def test_bare_paths_and_models(gateway, fake_gemini):
    r = httpx.post(f"{gateway.base_url}/chat/completions", json={"model": "flash", "messages": [{"role": "user", "content": "bare"}]})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "echo: bare"
    for path in ("/v1/models", "/models"):
        data = httpx.get(gateway.base_url + path).json()
        assert data["object"] == "list"
        assert {m["id"] for m in data["data"]} == {"flash", "badkey", "down", "g3", "embed"}


def test_models_via_client(client):
    assert {m.id for m in client.models.list()} == {"flash", "badkey", "down", "g3", "embed"}
    assert client.models.retrieve("flash").id == "flash"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


def test_unknown_model(client):
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.code == "model_not_found"
    assert exc.value.body["param"] == "model"


@pytest.mark.parametrize(
    "payload, param",
    [
        (b"{not json", None),
        (b"[1,2]", None),
        (b"", None),
        (b'{"model": "flash"}', "messages"),
        (b'{"model": "flash", "messages": []}', "messages"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "flash", "messages": [{"role": "wizard", "content": "x"}]}', "messages[0].role"),
        (b'{"model": "flash", "messages": [{"role": "user", "content": 5}]}', "messages[0].content"),
        (b'{"model": "flash", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}', "temperature"),
        (b'{"model": "flash", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', "max_tokens"),
        (b'{"model": "flash", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream"),
        (b'{"model": "flash", "messages": [{"role": "user", "content": "x"}], "stop": ["a","b","c","d","e","f"]}', "stop"),
    ],
)
def test_bad_requests_are_openai_400s(gateway, payload, param):
    r = httpx.post(f"{gateway.base_url}/v1/chat/completions", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    assert err["param"] == param
    assert "Traceback" not in r.text


def test_unknown_endpoint_and_method(gateway):
    r = httpx.get(f"{gateway.base_url}/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.get(f"{gateway.base_url}/v1/chat/completions")
    assert r.status_code == 405 and "error" in r.json()


def test_upstream_429_is_rate_limit(client, fake_gemini):
    fake_gemini.enqueue("gemini-2.5-flash", {"status": 429, "body": GOOGLE_429})
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.body["type"] == "rate_limit_error"
    assert "Resource has been exhausted" in exc.value.message


def test_upstream_500_is_server_error(client, fake_gemini):
    fake_gemini.enqueue("gemini-2.5-flash", {"status": 500, "body": [GOOGLE_500]})
    with pytest.raises(openai.InternalServerError) as exc:
        client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.status_code == 500
    assert exc.value.body["type"] == "server_error"


def test_upstream_400_is_invalid_request(client, fake_gemini):
    # The strict fake rejects an empty text part, as Google does; the gateway must not send one,
    # but an upstream 400 for other reasons maps to 400 invalid_request_error.
    fake_gemini.enqueue("gemini-2.5-flash", {"status": 400, "body": {"error": {"code": 400, "message": "Bad thing", "status": "INVALID_ARGUMENT"}}})
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.body["type"] == "invalid_request_error"


def test_invalid_upstream_key_is_401(client):
    with pytest.raises(openai.AuthenticationError) as exc:
        client.chat.completions.create(model="badkey", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.status_code == 401
    assert "wrong-key" not in exc.value.message


def test_unreachable_upstream_is_5xx(client):
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="down", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.status_code == 502


def test_stream_error_before_first_byte_has_http_status(client, fake_gemini):
    fake_gemini.enqueue("gemini-2.5-flash", {"status": 429, "body": GOOGLE_429})
    with pytest.raises(openai.RateLimitError):
        list(client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "hi"}], stream=True))


def test_stream_error_mid_stream_is_error_event(gateway, client, fake_gemini):
    events = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "partial "}]}}]},
        {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
    ]
    fake_gemini.enqueue("gemini-2.5-flash", {"sse": events})
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions",
                      json={"model": "flash", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
        body = r.read().decode()
    assert "partial " in body
    assert '"error"' in body and "overloaded" in body
    assert "[DONE]" not in body
    fake_gemini.enqueue("gemini-2.5-flash", {"sse": events})
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="flash", messages=[{"role": "user", "content": "hi"}], stream=True))


def test_truncated_stream_is_reported(gateway, fake_gemini):
    events = [{"candidates": [{"content": {"role": "model", "parts": [{"text": "cut "}]}}]}]
    fake_gemini.enqueue("gemini-2.5-flash", {"sse": events})
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions",
                      json={"model": "flash", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
        body = r.read().decode()
    assert "truncated" in body and "[DONE]" not in body


def test_health(gateway):
    assert httpx.get(f"{gateway.base_url}/health/liveliness").status_code == 200
    r = httpx.get(f"{gateway.base_url}/health/readiness")
    assert r.status_code == 200
    assert r.json() == {"status": "healthy", "router_service": "healthy", "budget_service": "healthy"}
