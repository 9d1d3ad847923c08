import pytest

from gemgate import openai_proto as conv
from gemgate.errors import GatewayError

FULL_REQUEST = {
    "model": "flash",
    "messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}],
         "thinking_blocks": [{"type": "thinking", "thinking": "hm", "signature": "c2ln"}, {"type": "redacted_thinking", "data": "cmVk"}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"ok\": true}"},
        {"role": "user", "content": ""},
    ],
    "temperature": 0.5, "top_p": 0.9, "max_tokens": 100, "max_completion_tokens": 90, "n": 2, "seed": 7,
    "presence_penalty": 0.1, "frequency_penalty": 0.2, "logprobs": True, "top_logprobs": 3,
    "stop": ["x", "y"],
    "tools": [{"type": "function", "function": {"name": "f", "description": "d", "strict": True,
                                                "parameters": {"type": "object", "properties": {"a": {"type": "integer", "minimum": 1}}, "required": ["a"]}}}],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "parallel_tool_calls": False,
    "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object", "maxProperties": 3}, "strict": True}},
    "reasoning_effort": "low", "user": "u1", "stream_options": {"include_usage": True},
    "metadata": {"tag": "x"}, "drop_params": True,
    "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    "mock_response": "canned",
}


def test_request_round_trip_is_lossless():
    back = conv.chat_request_to_dict(conv.chat_request_to_proto(FULL_REQUEST))
    assert back == FULL_REQUEST


def test_string_stop_and_null_content():
    back = conv.chat_request_to_dict(conv.chat_request_to_proto(
        {"model": "m", "stop": "END", "messages": [{"role": "assistant", "content": None}, {"role": "user", "content": "x"}]}))
    assert back["stop"] == ["END"]
    assert back["messages"][0]["content"] is None


@pytest.mark.parametrize("body, param", [
    ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "retrieval"}]}, "tools[0].type"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}, "tool_choice"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 0}, "n"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 1.5}, "seed"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "logprobs": "yes"}, "logprobs"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}}, "response_format.type"),
])
def test_validation_names_param(body, param):
    with pytest.raises(GatewayError) as exc:
        conv.chat_request_to_proto(body)
    assert exc.value.param == param


def test_response_round_trip():
    resp = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 5, "model": "flash",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None,
                     "message": {"role": "assistant", "content": None, "reasoning_content": "thought",
                                 "thinking_blocks": [{"type": "thinking", "thinking": "thought", "signature": "c2ln"}],
                                 "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7,
                  "prompt_tokens_details": {"cached_tokens": 1, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 2, "audio_tokens": 0}},
    }
    assert conv.chat_response_to_dict(conv.chat_response_to_proto(resp)) == resp


def test_chunk_round_trip():
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "finish_reason": None,
                          "delta": {"content": "", "thinking_blocks": [{"type": "redacted_thinking", "data": "cmVk"}], "tool_calls": [{"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}]}}]}
    assert conv.chat_chunk_to_dict(conv.chat_chunk_to_proto(chunk)) == chunk
    usage_chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
                             "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                             "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}}}
    assert conv.chat_chunk_to_dict(conv.chat_chunk_to_proto(usage_chunk)) == usage_chunk


def test_embeddings_request():
    req = conv.embeddings_request_to_proto({"model": "e", "input": "hello", "dimensions": 8})
    assert conv.embeddings_request_to_dict(req) == {"model": "e", "input": ["hello"], "dimensions": 8}
    with pytest.raises(GatewayError) as exc:
        conv.embeddings_request_to_proto({"model": "e", "input": []})
    assert exc.value.param == "input"
