import json

import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.anthropic.translate import JSON_TOOL_NAME, ClaudeStreamTranslator


def start(usage=None):
    return ("message_start", {"type": "message_start", "message": {
        "id": "msg_s", "type": "message", "role": "assistant", "content": [], "model": "claude", "stop_reason": None,
        "usage": usage or {"input_tokens": 20, "output_tokens": 1, "cache_read_input_tokens": 5,
                           "cache_creation_input_tokens": 0}}})


def block_start(i, block):
    return ("content_block_start", {"type": "content_block_start", "index": i, "content_block": block})


def delta(i, d):
    return ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d})


def stop(i):
    return ("content_block_stop", {"type": "content_block_stop", "index": i})


def msg_delta(reason, out_tokens):
    return ("message_delta", {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None},
                              "usage": {"output_tokens": out_tokens}})


END = ("message_stop", {"type": "message_stop"})


def run(events):
    t = ClaudeStreamTranslator(model="grp")
    chunks = []
    for name, data in events:
        chunks += t.feed(name, data)
    return chunks + t.finish()


def deltas(chunks):
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def test_text_stream():
    chunks = run([start(), block_start(0, {"type": "text", "text": ""}), ("ping", {"type": "ping"}),
                  delta(0, {"type": "text_delta", "text": "Hel"}), delta(0, {"type": "text_delta", "text": "lo"}),
                  stop(0), msg_delta("end_turn", 9), END])
    assert deltas(chunks) == [{"role": "assistant", "content": ""}, {"content": "Hel"}, {"content": "lo"}, {}]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert all(c["id"] == "chatcmpl-msg_s" and c["model"] == "grp" and c["object"] == "chat.completion.chunk" for c in chunks)
    last = chunks[-1]
    assert last["choices"] == [] and last["usage"]["prompt_tokens"] == 25 and last["usage"]["completion_tokens"] == 9
    assert last["usage"]["prompt_tokens_details"]["cached_tokens"] == 5


def test_thinking_then_tool_use_split_json():
    chunks = run([
        start(),
        block_start(0, {"type": "thinking", "thinking": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "I should call"}),
        delta(0, {"type": "signature_delta", "signature": "abc"}),
        stop(0),
        block_start(1, {"type": "text", "text": ""}),
        delta(1, {"type": "text_delta", "text": "Let me check."}),
        stop(1),
        block_start(2, {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}),
        delta(2, {"type": "input_json_delta", "partial_json": ""}),
        delta(2, {"type": "input_json_delta", "partial_json": '{"city": "Pa'}),
        delta(2, {"type": "input_json_delta", "partial_json": 'ris"}'}),
        stop(2),
        block_start(3, {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}}),
        delta(3, {"type": "input_json_delta", "partial_json": "{}"}),
        stop(3),
        msg_delta("tool_use", 40), END,
    ])
    ds = deltas(chunks)
    assert ds[1] == {"reasoning_content": "I should call"}
    assert ds[2] == {"thinking_blocks": [{"type": "thinking", "thinking": "I should call", "signature": "abc"}]}
    assert ds[3] == {"content": "Let me check."}
    assert ds[4] == {"tool_calls": [{"index": 0, "id": "toolu_a", "type": "function",
                                     "function": {"name": "get_weather", "arguments": ""}}]}
    args = "".join(d["tool_calls"][0]["function"]["arguments"] for d in ds if "tool_calls" in d and d["tool_calls"][0]["index"] == 0)
    assert json.loads(args) == {"city": "Paris"}
    second = [d for d in ds if "tool_calls" in d and d["tool_calls"][0]["index"] == 1]
    assert second[0]["tool_calls"][0]["id"] == "toolu_b" and second[1]["tool_calls"][0]["function"] == {"arguments": "{}"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["completion_tokens"] == 40


def test_json_tool_stream_becomes_content():
    chunks = run([start(), block_start(0, {"type": "tool_use", "id": "t", "name": JSON_TOOL_NAME, "input": {}}),
                  delta(0, {"type": "input_json_delta", "partial_json": '{"a":'}),
                  delta(0, {"type": "input_json_delta", "partial_json": " 1}"}),
                  stop(0), msg_delta("tool_use", 5), END])
    ds = deltas(chunks)
    assert "".join(d.get("content", "") for d in ds) == '{"a": 1}'
    assert not any("tool_calls" in d for d in ds)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_max_tokens_finish():
    chunks = run([start(), block_start(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "x"}),
                  stop(0), msg_delta("max_tokens", 1), END])
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"


def test_error_event_raises():
    t = ClaudeStreamTranslator(model="m")
    t.feed(*start())
    with pytest.raises(GatewayError) as ei:
        t.feed("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert ei.value.kind is ErrorKind.UNAVAILABLE


def test_truncated_stream_raises():
    t = ClaudeStreamTranslator(model="m")
    for ev in [start(), block_start(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "x"}),
               msg_delta("end_turn", 1)]:
        t.feed(*ev)
    with pytest.raises(GatewayError) as ei:
        t.finish()
    assert ei.value.kind is ErrorKind.BAD_GATEWAY


def test_event_name_from_data_type_when_missing():
    t = ClaudeStreamTranslator(model="m")
    assert t.feed(None, start()[1])[0]["choices"][0]["delta"]["role"] == "assistant"
