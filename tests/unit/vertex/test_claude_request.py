import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.anthropic.translate import JSON_TOOL_NAME, to_claude_request
from tests.fakes.claude_validate import validate_claude_body

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def conv(req, deployment=None):
    body = to_claude_request({"model": "claude", **req}, deployment=deployment)
    problem = validate_claude_body(body)
    assert problem is None, problem
    return body


def err(req, deployment=None) -> GatewayError:
    with pytest.raises(GatewayError) as ei:
        to_claude_request({"model": "claude", **req}, deployment=deployment)
    return ei.value


USER = [{"role": "user", "content": "hi"}]


def test_minimal_body():
    body = conv({"messages": USER})
    assert body == {
        "anthropic_version": "vertex-2023-10-16",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "max_tokens": 4096,
    }
    assert "model" not in body


@pytest.mark.parametrize(
    "model,expected",
    [
        ("vertex_ai/claude-sonnet-4-5@20250929", 64000),
        ("vertex_ai/claude-opus-4-1@20250805", 32000),
        ("vertex_ai/claude-opus-4-5@20251101", 64000),
        ("vertex_ai/claude-3-5-haiku@20241022", 8192),
        ("vertex_ai/claude-3-haiku@20240307", 4096),
        ("vertex_ai/claude-haiku-4-5@20251001", 64000),
        ("vertex_ai/claude-unknown", 4096),
    ],
)
def test_default_max_tokens_by_model(model, expected):
    assert conv({"messages": USER}, {"model": model})["max_tokens"] == expected


def test_max_tokens_precedence():
    dep = {"model": "vertex_ai/claude-sonnet-4-5", "max_tokens": 1000}
    assert conv({"messages": USER, "max_completion_tokens": 7, "max_tokens": 9}, dep)["max_tokens"] == 7
    assert conv({"messages": USER, "max_tokens": 9}, dep)["max_tokens"] == 9
    assert conv({"messages": USER}, dep)["max_tokens"] == 1000


def test_system_and_developer_become_top_level_blocks():
    body = conv({"messages": [
        {"role": "system", "content": "be brief"},
        {"role": "developer", "content": [{"type": "text", "text": "no emojis"}]},
        {"role": "user", "content": "hi"},
    ]})
    assert body["system"] == [{"type": "text", "text": "be brief"}, {"type": "text", "text": "no emojis"}]
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_only_system_gets_a_user_turn():
    body = conv({"messages": [{"role": "system", "content": "s"}]})
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "."}]}]


def test_first_message_assistant_inserts_user():
    body = conv({"messages": [{"role": "assistant", "content": "hello"}, {"role": "user", "content": "hi"}]})
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_adjacent_same_role_merged():
    body = conv({"messages": [
        {"role": "user", "content": "a"}, {"role": "user", "content": "b"},
        {"role": "assistant", "content": "c"}, {"role": "assistant", "content": "d"},
        {"role": "user", "content": "e"},
    ]})
    assert body["messages"][0]["content"] == [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert len(body["messages"]) == 3


def test_prefill_trailing_whitespace_stripped():
    body = conv({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Sure: "}]})
    assert body["messages"][-1]["content"][-1]["text"] == "Sure:"


def test_tool_round_trip_mapping():
    body = conv({
        "messages": [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
            ]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "rain", "is_error": True},
            {"role": "user", "content": "thanks"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                                     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                                                     "strict": True}}],
    })
    assistant = body["messages"][1]
    assert assistant["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    user = body["messages"][2]
    assert user["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "rain", "is_error": True},
        {"type": "text", "text": "thanks"},
    ]
    assert body["tools"] == [{"name": "get_weather", "description": "Weather",
                              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def test_tool_results_put_first_even_if_user_text_came_first():
    body = conv({"messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "user", "content": "note"},
        {"role": "tool", "tool_call_id": "t1", "content": "r"},
    ], "tools": [{"type": "function", "function": {"name": "f"}}]})
    assert [b["type"] for b in body["messages"][2]["content"]] == ["tool_result", "text"]
    assert body["tools"][0]["input_schema"] == {"type": "object", "properties": {}}


def test_tool_message_for_unknown_call_rejected():
    e = err({"messages": [{"role": "user", "content": "q"}, {"role": "tool", "tool_call_id": "x", "content": "r"}]})
    assert e.kind is ErrorKind.INVALID_REQUEST and e.param == "messages[1].tool_call_id"


def test_bad_tool_arguments_rejected():
    e = err({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [
        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]})
    assert e.param == "messages[1].tool_calls[0].function.arguments"


def test_images():
    body = conv({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]}]})
    blocks = body["messages"][0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    assert blocks[2] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}


@pytest.mark.parametrize("url", ["http://example.com/a.png", "gs://b/a.png", "data:image/tiff;base64,AAAA"])
def test_bad_images_rejected(url):
    e = err({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]})
    assert e.param == "messages[0].content[0]"


def test_unsupported_content_part_rejected():
    e = err({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]})
    assert e.param == "messages[0].content[0]"


def test_empty_user_content_rejected():
    assert err({"messages": [{"role": "user", "content": ""}]}).param == "messages[0].content"


@pytest.mark.parametrize(
    "tc,expected",
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice(tc, expected):
    body = conv({"messages": USER, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": tc})
    assert body["tool_choice"] == expected


def test_parallel_tool_calls_false():
    tools = [{"type": "function", "function": {"name": "f"}}]
    body = conv({"messages": USER, "tools": tools, "parallel_tool_calls": False})
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    body = conv({"messages": USER, "tools": tools, "parallel_tool_calls": False, "tool_choice": "required"})
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_tool_choice_without_tools():
    assert "tool_choice" not in conv({"messages": USER, "tool_choice": "none"})
    assert err({"messages": USER, "tool_choice": "required"}).param == "tool_choice"


def test_sampling_params():
    body = conv({"messages": USER, "temperature": 0.3, "stop": ["END", "STOP"], "user": "u-1", "top_k": 5})
    assert body["temperature"] == 0.3 and body["stop_sequences"] == ["END", "STOP"]
    assert body["metadata"] == {"user_id": "u-1"} and body["top_k"] == 5
    assert conv({"messages": USER, "top_p": 0.9})["top_p"] == 0.9
    assert conv({"messages": USER, "stop": "X"})["stop_sequences"] == ["X"]


def test_temperature_above_one_rejected():
    e = err({"messages": USER, "temperature": 1.5})
    assert e.kind is ErrorKind.INVALID_REQUEST and e.param == "temperature"


def test_temperature_and_top_p_together():
    assert err({"messages": USER, "temperature": 0.5, "top_p": 0.9}).param == "top_p"
    body = conv({"messages": USER, "temperature": 0.5, "top_p": 0.9, "drop_params": True})
    assert body["temperature"] == 0.5 and "top_p" not in body


def test_reasoning_effort_thinking():
    body = conv({"messages": USER, "reasoning_effort": "medium"}, {"model": "vertex_ai/claude-sonnet-4-5"})
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] > 4096
    body = conv({"messages": USER, "reasoning_effort": "high", "max_tokens": 5000})
    assert body["thinking"]["budget_tokens"] == 4999 and body["max_tokens"] == 5000
    assert "thinking" not in conv({"messages": USER, "reasoning_effort": "none"})
    assert err({"messages": USER, "reasoning_effort": "low", "temperature": 0.2}).param == "temperature"
    assert err({"messages": USER, "reasoning_effort": "extreme"}).param == "reasoning_effort"
    assert err({"messages": USER, "reasoning_effort": "low", "max_tokens": 500}).param == "max_tokens"


def test_response_format_json_schema_uses_forced_tool():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    body = conv({"messages": USER, "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}})
    assert body["tools"][-1]["name"] == JSON_TOOL_NAME and body["tools"][-1]["input_schema"] == schema
    assert body["tool_choice"] == {"type": "tool", "name": JSON_TOOL_NAME}
    body = conv({"messages": USER, "response_format": {"type": "json_object"}})
    assert body["tools"][0]["input_schema"] == {"type": "object"}
    assert "tools" not in conv({"messages": USER, "response_format": {"type": "text"}})


def test_response_format_with_user_tools_forces_any():
    body = conv({"messages": USER, "tools": [{"type": "function", "function": {"name": "f"}}],
                 "response_format": {"type": "json_object"}})
    assert [t["name"] for t in body["tools"]] == ["f", JSON_TOOL_NAME] and body["tool_choice"] == {"type": "any"}
    e = err({"messages": USER, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required",
             "response_format": {"type": "json_object"}})
    assert e.param == "response_format"


@pytest.mark.parametrize("param,value", [("presence_penalty", 0.5), ("logprobs", True), ("seed", 1), ("n", 2),
                                          ("frequency_penalty", 0.1), ("logit_bias", {"1": 1}), ("something_new", 1)])
def test_unsupported_params(param, value):
    e = err({"messages": USER, param: value})
    assert e.kind is ErrorKind.INVALID_REQUEST and e.param == param
    conv({"messages": USER, param: value}, {"drop_params": True})  # dropped silently


def test_ignored_keys():
    conv({"messages": USER, "stream": True, "stream_options": {"include_usage": True}, "n": 1, "mock_response": None})


def test_non_function_tool_rejected():
    assert err({"messages": USER, "tools": [{"type": "web_search"}]}).param == "tools[0]"
