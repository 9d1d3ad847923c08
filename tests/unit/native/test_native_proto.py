"""Anthropic / Gemini JSON <-> proto: lossless round trips, shape errors as 400s naming the field."""

from __future__ import annotations

import pytest

from gemgate import anthropic_proto as aconv
from gemgate import gemini_proto as gconv
from gemgate.errors import GatewayError
from gemgate.v1 import anthropic_pb2, gemini_native_pb2


def _wire(msg):
    return type(msg).FromString(msg.SerializeToString())


def test_anthropic_request_round_trip_keeps_every_field():
    body = {"model": "g", "max_tokens": 1000, "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]},
                         {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "sig"},
                                                           {"type": "redacted_thinking", "data": "xyz"},
                                                           {"type": "tool_use", "id": "t1", "name": "f", "input": {"n": 3, "f": 1.5}}]},
                         {"role": "user", "content": "plain"}],
            "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}}],
            "tool_choice": {"type": "auto"}, "stop_sequences": [], "temperature": 0.5, "top_k": 40,
            "metadata": {"user_id": "u"}, "thinking": {"type": "enabled", "budget_tokens": 1024},
            "service_tier": "auto", "mock_response": "x"}
    back = aconv.messages_request_to_dict(_wire(aconv.messages_request_to_proto(body, betas=["b1"])))
    assert back == body
    assert isinstance(back["messages"][1]["content"][2]["input"]["n"], int)


def test_anthropic_response_and_event_round_trip():
    msg = {"id": "msg_1", "type": "message", "role": "assistant", "model": "g", "content": [{"type": "text", "text": "x"}],
           "stop_reason": "end_turn", "stop_sequence": None,
           "usage": {"input_tokens": 1, "output_tokens": 2, "cache_read_input_tokens": 0, "service_tier": "standard"},
           "container": None}
    out = aconv.message_to_dict(_wire(aconv.message_to_proto(msg)))
    assert out == {k: v for k, v in msg.items() if k != "container"} | {"container": None}
    ev = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}}
    assert aconv.event_to_dict(_wire(aconv.event_to_proto(ev))) == ev


@pytest.mark.parametrize("body,param", [
    ({"max_tokens": 5, "messages": []}, "model"),
    ({"model": "g", "messages": "x"}, "messages"),
    ({"model": "g", "messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
    ({"model": "g", "messages": [{"role": "user"}]}, "messages.0.content"),
    ({"model": "g", "messages": [{"role": "user", "content": "x", "name": "n"}]}, "messages.0.name"),
    ({"model": "g", "messages": [], "max_tokens": 0}, "max_tokens"),
    ({"model": "g", "messages": [], "stream": "yes"}, "stream"),
    ({"model": "g", "messages": [], "system": [{"type": "image"}]}, "system.0.type"),
])
def test_anthropic_shape_errors(body, param):
    _check_shape(body, param)


def _nested(n: int) -> dict:
    d: dict = {}
    for _ in range(n):
        d = {"a": d}
    return d


def test_too_deep_json_is_a_400_not_a_protobuf_crash():
    _check_shape({"model": "g", "messages": [], "tools": [{"name": "f", "input_schema": _nested(40)}]}, "body")
    with pytest.raises(GatewayError):
        gconv.generate_request_to_proto({"contents": [{"parts": [{"functionResponse": _nested(40)}]}]}, model="g", api="gemini")
    ok = {"model": "g", "messages": [], "tools": [{"name": "f", "input_schema": _nested(25)}]}
    assert aconv.messages_request_to_dict(_wire(aconv.messages_request_to_proto(ok)))["tools"] == ok["tools"]


def _check_shape(body, param):
    with pytest.raises(GatewayError) as exc:
        aconv.messages_request_to_proto(body)
    assert exc.value.param == param


def test_gemini_round_trip_and_snake_case():
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "image/png", "data": "AA=="}}]}],
            "system_instruction": {"parts": [{"text": "s"}]}, "generation_config": {"temperature": 1, "thinkingConfig": {"thinkingBudget": 0}},
            "tools": [{"googleSearch": {}}], "labels": {"a": "b"}, "cachedContent": "cachedContents/x", "newField": {"k": 1}}
    back = gconv.generate_request_to_dict(_wire(gconv.generate_request_to_proto(body, model="g", api="gemini")))
    assert back["systemInstruction"] == {"parts": [{"text": "s"}]} and back["generationConfig"]["temperature"] == 1
    assert back["labels"] == {"a": "b"} and back["newField"] == {"k": 1} and back["tools"] == [{"googleSearch": {}}]
    with pytest.raises(GatewayError) as exc:
        gconv.generate_request_to_proto({"contents": [{"parts": "x"}]}, model="g", api="gemini")
    assert exc.value.param == "contents[0].parts"
    count = gconv.count_request_to_proto({"contents": body["contents"]}, model="g", api="gemini")
    assert count.generate_content_request.model == "g" and len(count.generate_content_request.contents) == 1
    with pytest.raises(GatewayError):
        gconv.count_request_to_proto({"contents": [], "generateContentRequest": {"contents": []}}, model="g", api="gemini")
    emb = gconv.embed_request_to_proto({"requests": [{"content": {"parts": [{"text": "a"}]}, "taskType": "RETRIEVAL_QUERY"}]},
                                       model="e", batch=True)
    assert emb.requests[0].task_type == "RETRIEVAL_QUERY"
    assert isinstance(emb, gemini_native_pb2.GeminiBatchEmbedRequest) and anthropic_pb2 is not None
