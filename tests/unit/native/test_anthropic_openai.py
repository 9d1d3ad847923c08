"""Anthropic Messages <-> OpenAI chat translation (pure): every field mapped or refused by name."""

from __future__ import annotations

import json

import pytest

from gemgate.errors import GatewayError
from router_service.native.anthropic_openai import AnthropicStreamFromOpenAI, from_openai, to_openai

BASE = {"model": "g", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def test_full_request_mapping():
    body = {
        **BASE, "temperature": 0.3, "top_p": 0.9, "top_k": 7, "stop_sequences": ["X"], "metadata": {"user_id": "u"},
        "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
        "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "look"},
                                         {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
                                         {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "BBB"}}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                                              {"type": "text", "text": "calling"},
                                              {"type": "tool_use", "id": "tu1", "name": "f", "input": {"a": 1}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": [{"type": "text", "text": "ok"}]},
                                         {"type": "tool_result", "tool_use_id": "tu2", "content": "bad", "is_error": True},
                                         {"type": "text", "text": "next"}]},
        ],
    }
    out = to_openai(body, group="grp")
    assert out["model"] == "grp" and out["max_tokens"] == 100 and out["top_k"] == 7 and out["stop"] == ["X"]
    assert out["user"] == "u" and out["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert out["tool_choice"] == {"type": "function", "function": {"name": "f"}} and out["parallel_tool_calls"] is False
    assert out["tools"][0]["function"] == {"name": "f", "description": "d", "parameters": {"type": "object"}}
    msgs = out["messages"]
    assert msgs[0] == {"role": "system", "content": [{"type": "text", "text": "sys"}]}
    assert msgs[1]["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}
    assert msgs[1]["content"][2] == {"type": "file", "file": {"file_data": "data:application/pdf;base64,BBB"}}
    assert msgs[2] == {"role": "assistant", "content": "calling", "tool_calls": [
        {"id": "tu1", "type": "function", "function": {"name": "f", "arguments": json.dumps({"a": 1})}}]}
    assert msgs[3] == {"role": "tool", "tool_call_id": "tu1", "content": "ok"}
    assert json.loads(msgs[4]["content"]) == {"error": "bad"}
    assert msgs[5] == {"role": "user", "content": [{"type": "text", "text": "next"}]}


@pytest.mark.parametrize("patch,param", [
    ({"service_tier": "auto"}, "service_tier"),
    ({"tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools.0.type"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "x", "citations": [{"a": 1}]}]}]},
     "messages.0.content.0.citations"),
    ({"messages": [{"role": "user", "content": [{"type": "search_result", "source": "s"}]}]}, "messages.0.content.0.type"),
    ({"metadata": {"user_id": "u", "other": 1}}, "metadata.other"),
    ({"thinking": {"type": "adaptive"}}, "thinking.type"),
    ({"messages": [{"role": "user", "content": [{"type": "document", "title": "T",
                                                 "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]}]},
     "messages.0.content.0.title"),
])
def test_unmappable_fields_are_refused_by_name_unless_drop(patch, param):
    body = {**BASE, **patch}
    with pytest.raises(GatewayError) as exc:
        to_openai(body, group="g")
    assert exc.value.param == param and param in exc.value.message
    to_openai(body, group="g", drop=True)  # dropped on request
    to_openai(body, group="g", strict=False)  # estimate twin never refuses


def test_response_mapping():
    resp = {"id": "chatcmpl-abc", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "hi", "reasoning_content": "think",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 2}'}}]}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 4}}}
    out = from_openai(resp, group="g")
    assert out["id"] == "msg_abc" and out["model"] == "g" and out["stop_reason"] == "tool_use"
    assert [b["type"] for b in out["content"]] == ["thinking", "text", "tool_use"]
    assert out["content"][2]["input"] == {"x": 2}
    assert out["usage"] == {"input_tokens": 6, "output_tokens": 5, "cache_creation_input_tokens": 0,
                            "cache_read_input_tokens": 4}
    assert from_openai({"choices": [{"finish_reason": "length", "message": {}}]}, group="g")["stop_reason"] == "max_tokens"


def test_stream_event_sequence():
    tr = AnthropicStreamFromOpenAI(group="g")
    events = []
    for chunk in [
        {"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "hm"}}]},
        {"choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "f", "arguments": "{\"a\""}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
    ]:
        events += tr.feed(chunk)
    events += tr.finish()
    types = [e["type"] for e in events]
    assert types == ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]
    assert [e["index"] for e in events if e["type"] == "content_block_start"] == [0, 1, 2]
    assert events[9]["content_block"] == {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    assert events[-2]["delta"]["stop_reason"] == "tool_use" and events[-2]["usage"]["output_tokens"] == 4
    empty = AnthropicStreamFromOpenAI(group="g").finish()
    assert [e["type"] for e in empty] == ["message_start", "ping", "message_delta", "message_stop"]


def test_tool_result_images_follow_the_tool_results_as_user_content():
    body = {**BASE, "messages": [
        {"role": "user", "content": "shot?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "screenshot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "text", "text": "here"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ=="}}]},
            {"type": "text", "text": "what is it?"}]}]}
    msgs = to_openai(body, group="g")["messages"]
    assert msgs[2] == {"role": "tool", "tool_call_id": "t1", "content": "here"}
    assert msgs[3] == {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ=="}},
                                                   {"type": "text", "text": "what is it?"}]}
