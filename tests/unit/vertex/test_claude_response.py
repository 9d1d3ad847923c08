import json

import pytest

from gemgate.errors import ErrorKind
from router_service.providers.anthropic.translate import JSON_TOOL_NAME, error_from_claude, from_claude_response


def msg(content, stop="end_turn", usage=None):
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": content,
            "stop_reason": stop, "usage": usage or {"input_tokens": 10, "output_tokens": 3}}


def test_text_response():
    out = from_claude_response(msg([{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]), model="grp")
    assert out["object"] == "chat.completion" and out["model"] == "grp" and out["id"] == "chatcmpl-msg_1"
    assert out["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}]
    assert out["usage"]["prompt_tokens"] == 10 and out["usage"]["completion_tokens"] == 3 and out["usage"]["total_tokens"] == 13


def test_thinking_and_tool_use():
    out = from_claude_response(msg([
        {"type": "thinking", "thinking": "let me think", "signature": "sig"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Paris"}},
    ], stop="tool_use"), model="m")
    m = out["choices"][0]["message"]
    assert m["reasoning_content"] == "let me think" and m["content"] == "Checking."
    assert m["tool_calls"] == [{"id": "toolu_9", "type": "function",
                                "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def test_only_tool_call_has_null_content():
    out = from_claude_response(msg([{"type": "tool_use", "id": "t", "name": "f", "input": {}}], stop="tool_use"), model="m")
    assert out["choices"][0]["message"]["content"] is None


def test_json_tool_becomes_content():
    out = from_claude_response(msg([{"type": "tool_use", "id": "t", "name": JSON_TOOL_NAME, "input": {"a": 1}}],
                                   stop="tool_use"), model="m")
    assert out["choices"][0]["message"] == {"role": "assistant", "content": '{"a": 1}'}
    assert out["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("stop,expected", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("refusal", "content_filter"),
    ("model_context_window_exceeded", "length"), ("pause_turn", "stop"), (None, "stop"),
])
def test_stop_reasons(stop, expected):
    assert from_claude_response(msg([{"type": "text", "text": "x"}], stop=stop), model="m")["choices"][0]["finish_reason"] == expected


def test_usage_with_cache():
    out = from_claude_response(msg([{"type": "text", "text": "x"}], usage={
        "input_tokens": 5, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000, "output_tokens": 7}), model="m")
    assert out["usage"] == {"prompt_tokens": 1105, "completion_tokens": 7, "total_tokens": 1112,
                            "prompt_tokens_details": {"cached_tokens": 1000},
                            "completion_tokens_details": {"reasoning_tokens": 0}}


@pytest.mark.parametrize("status,etype,kind", [
    (529, "overloaded_error", ErrorKind.UNAVAILABLE),
    (429, "rate_limit_error", ErrorKind.RATE_LIMIT),
    (400, "invalid_request_error", ErrorKind.INVALID_REQUEST),
    (401, "authentication_error", ErrorKind.AUTHENTICATION),
    (403, "permission_error", ErrorKind.PERMISSION),
    (404, "not_found_error", ErrorKind.MODEL_NOT_FOUND),
    (500, "api_error", ErrorKind.UPSTREAM_ERROR),
    (413, "request_too_large", ErrorKind.INVALID_REQUEST),
])
def test_anthropic_errors(status, etype, kind):
    body = json.dumps({"type": "error", "error": {"type": etype, "message": "boom"}}).encode()
    e = error_from_claude(status, body)
    assert e.kind is kind and e.upstream_status == status and "boom" in e.message


def test_prompt_too_long_is_context_length():
    e = error_from_claude(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                           "message": "prompt is too long: 210000 tokens > 200000 maximum"}})
    assert e.kind is ErrorKind.CONTEXT_LENGTH_EXCEEDED


@pytest.mark.parametrize("status,kind", [(429, ErrorKind.RATE_LIMIT), (404, ErrorKind.MODEL_NOT_FOUND),
                                         (403, ErrorKind.PERMISSION), (503, ErrorKind.UNAVAILABLE),
                                         (400, ErrorKind.INVALID_REQUEST), (500, ErrorKind.UPSTREAM_ERROR)])
def test_google_envelope_errors(status, kind):
    body = [{"error": {"code": status, "message": "quota", "status": "X",
                       "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "41s"}]}}]
    e = error_from_claude(status, json.dumps(body))
    assert e.kind is kind and e.retry_after == 41.0


def test_unparseable_error_body():
    assert error_from_claude(502, b"<html>").kind is ErrorKind.BAD_GATEWAY
    assert error_from_claude(418, b"").kind is ErrorKind.INVALID_REQUEST
