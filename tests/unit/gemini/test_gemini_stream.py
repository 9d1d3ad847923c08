import json

import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.gemini.translate import GeminiStreamTranslator
from tests.unit.gemini.gemini_fixtures import SIG


def _ev(parts=None, reason=None, index=None, usage=None):
    cand = {}
    if parts is not None:
        cand["content"] = {"role": "model", "parts": parts}
    if reason:
        cand["finishReason"] = reason
    if index is not None:
        cand["index"] = index
    ev = {"candidates": [cand]}
    if usage:
        ev["usageMetadata"] = usage
    return ev


def _all(events, **kw):
    st = GeminiStreamTranslator(model="m", **kw)
    chunks = [c for e in events for c in st.feed(e)]
    return chunks + st.finish()


def test_text_stream_role_then_deltas_then_finish_then_usage():
    chunks = _all([_ev([{"text": "Hel"}]), _ev([{"text": "lo"}], usage={"promptTokenCount": 1, "candidatesTokenCount": 1}),
                   _ev(None, "STOP", usage={"promptTokenCount": 2, "candidatesTokenCount": 3, "totalTokenCount": 5})])
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1]) == "Hello"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 5
    assert len({c["id"] for c in chunks}) == 1 and all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_streaming_tool_calls_one_entry_each_and_finish_tool_calls():
    parts = [{"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": SIG},
             {"functionCall": {"name": "b", "args": {}}}]
    chunks = _all([_ev(parts), _ev(None, "STOP")])
    calls = [tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls", [])]
    assert [tc["index"] for tc in calls] == [0, 1]
    assert calls[0]["type"] == "function" and calls[0]["function"] == {"name": "a", "arguments": json.dumps({"x": 1})}
    assert "__thought__" in calls[0]["id"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_reasoning_deltas():
    chunks = _all([_ev([{"text": "think", "thought": True}]), _ev([{"text": "ok"}], "STOP")])
    assert any(c["choices"] and c["choices"][0]["delta"].get("reasoning_content") == "think" for c in chunks)


def test_n_choices_in_stream():
    chunks = _all([{"candidates": [{"content": {"parts": [{"text": "a"}]}}, {"index": 1, "content": {"parts": [{"text": "b"}]}}]},
                   {"candidates": [{"finishReason": "STOP"}, {"index": 1, "finishReason": "MAX_TOKENS"}]}], n=2)
    finishes = {c["choices"][0]["index"]: c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]}
    assert finishes == {0: "stop", 1: "length"}


def test_blocked_prompt_in_stream():
    chunks = _all([{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}])
    assert chunks[-2]["choices"][0]["finish_reason"] == "content_filter"


def test_mid_stream_error_event_raises():
    st = GeminiStreamTranslator(model="m")
    st.feed(_ev([{"text": "a"}]))
    with pytest.raises(GatewayError) as exc:
        st.feed({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
    assert exc.value.kind is ErrorKind.UNAVAILABLE


@pytest.mark.parametrize("events", [[], [_ev([{"text": "a"}])]])
def test_truncated_stream_raises(events):
    st = GeminiStreamTranslator(model="m")
    for e in events:
        st.feed(e)
    with pytest.raises(GatewayError) as exc:
        st.finish()
    assert exc.value.kind is ErrorKind.BAD_GATEWAY


def test_malformed_function_call_in_stream_raises():
    st = GeminiStreamTranslator(model="m")
    with pytest.raises(GatewayError) as exc:
        st.feed(_ev(None, "MALFORMED_FUNCTION_CALL"))
    assert exc.value.code == "malformed_function_call"
