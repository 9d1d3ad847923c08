"""Pure Responses -> chat translation: every field mapped or refused by name."""

from __future__ import annotations

import pytest

from gemgate.errors import GatewayError
from gemgate.responses import convert
from gemgate.responses.reasoning import encode_blocks
from gemgate.responses.to_chat import to_chat

BLOCK = {"type": "thinking", "thinking": "hmm", "signature": "c2ln"}


def roundtrip(body: dict) -> dict:
    """What the router sees: facade validation -> proto -> dict."""
    return convert.request_to_dict(convert.request_to_proto(body))


def test_string_input_instructions_and_params():
    plan = to_chat(roundtrip({"model": "m", "input": "hi", "instructions": "sys", "temperature": 0.5, "top_p": 0.9,
                              "max_output_tokens": 64, "user": "u1", "metadata": {"a": "b"}, "parallel_tool_calls": False,
                              "reasoning": {"effort": "low", "summary": "auto"}}))
    assert plan.chat["messages"] == [{"role": "system", "content": "sys"},
                                     {"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    for key, value in {"temperature": 0.5, "top_p": 0.9, "max_completion_tokens": 64, "user": "u1",
                       "metadata": {"a": "b"}, "parallel_tool_calls": False, "reasoning_effort": "low"}.items():
        assert plan.chat[key] == value
    assert plan.summary is True
    assert plan.input_items[0]["id"].startswith("msg_")
    assert plan.input_items[0]["content"] == [{"type": "input_text", "text": "hi"}]


def test_items_merge_into_chat_turns():
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "look"},
                                     {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
                                     {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}],
         "encrypted_content": encode_blocks([BLOCK])},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\":1}"},
        {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "two"}]},
    ]
    msgs = to_chat(roundtrip({"model": "m", "input": items})).chat["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "tool"]
    assert msgs[0]["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}}
    assert msgs[0]["content"][2] == {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}}
    asst = msgs[1]
    assert asst["content"] == "calling" and asst["reasoning_content"] == "think" and asst["thinking_blocks"] == [BLOCK]
    assert [c["id"] for c in asst["tool_calls"]] == ["c1", "c2"]
    assert msgs[3] == {"role": "tool", "tool_call_id": "c2", "content": "two"}


def test_history_comes_first_and_is_not_renumbered():
    history = [{"type": "message", "id": "msg_a", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
               {"type": "function_call", "id": "fc_a", "call_id": "c1", "name": "f", "arguments": "{}"}]
    plan = to_chat({"model": "m", "input": [{"type": "function_call_output", "call_id": "c1", "output": "r"}]}, history)
    assert [m["role"] for m in plan.chat["messages"]] == ["user", "assistant", "tool"]
    assert plan.input_items[:2] == history and len(plan.new_items) == 1


@pytest.mark.parametrize("extra,param", [
    ({"tools": [{"type": "file_search"}]}, "tools[0].type"),
    ({"tool_choice": {"type": "web_search"}}, "tool_choice"),
    ({"conversation": "conv_1"}, "conversation"),
    ({"top_logprobs": 2}, "top_logprobs"),
    ({"include": ["file_search_call.results"]}, "include[0]"),
    ({"text": {"verbosity": "low"}}, "text.verbosity"),
])
def test_refused_unless_drop_params(extra, param):
    body = {"model": "m", "input": "x", **extra}
    with pytest.raises(GatewayError) as exc:
        to_chat(roundtrip(body))
    assert exc.value.param == param and exc.value.kind.info.http_status == 400
    to_chat(roundtrip({**body, "drop_params": True}))
    to_chat(roundtrip(body), drop_default=True)


@pytest.mark.parametrize("body,param", [
    ({"input": [{"type": "computer_call"}]}, "input[0].type"),
    ({"input": [{"role": "wizard", "content": "x"}]}, "input[0].role"),
    ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-123"}]}]}, "input[0].content[0].file_id"),
    ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
    ({"input": [{"type": "reasoning", "summary": [], "encrypted_content": "opaque-from-openai"}]}, "input[0].encrypted_content"),
    ({"input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}}, "text.format.schema"),
    ({"input": "x", "reasoning": {"summary": "verbose"}}, "reasoning.summary"),
    ({}, "input"),
])
def test_bad_input_is_400_naming_it(body, param):
    with pytest.raises(GatewayError) as exc:
        to_chat(roundtrip({"model": "m", **body}))
    assert exc.value.param == param


@pytest.mark.parametrize("body,param", [
    ({"model": "m", "input": 3}, "input"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": 5}]}]}, "input[0].content[0].text"),
    ({"model": "m", "input": "x", "temperature": "hot"}, "temperature"),
    ({"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "schema": []}}}, "text.format.schema"),
    ({"model": "m", "input": "x", "reasoning": {"effort": "low", "budget": 3}}, "reasoning.budget"),
    ({"input": "x"}, "model"),
])
def test_facade_validation_names_the_param(body, param):
    with pytest.raises(GatewayError) as exc:
        convert.request_to_proto(body)
    assert exc.value.param == param


def test_json_schema_and_tools_map():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}
    plan = to_chat(roundtrip({"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "f"},
                              "tools": [{"type": "function", "name": "f", "parameters": schema, "strict": True}],
                              "text": {"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}}}))
    assert plan.chat["tools"] == [{"type": "function", "function": {"name": "f", "parameters": schema, "strict": True}}]
    assert plan.chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert plan.chat["response_format"] == {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}
    assert isinstance(plan.chat["tools"][0]["function"]["parameters"]["properties"]["n"]["minimum"], int)


def test_extras_pass_through_for_the_provider_to_judge():
    plan = to_chat(roundtrip({"model": "m", "input": "x", "mock_response": "hi", "fallbacks": ["b"], "background": True,
                              "truncation": "auto", "prompt_cache_key": "t1"}))
    assert plan.chat["mock_response"] == "hi" and plan.chat["fallbacks"] == ["b"]
    assert plan.chat["background"] is True and plan.chat["truncation"] == "auto" and plan.chat["prompt_cache_key"] == "t1"
    plan = to_chat(roundtrip({"model": "m", "input": "x", "background": False, "truncation": "disabled"}))
    assert "background" not in plan.chat and "truncation" not in plan.chat
