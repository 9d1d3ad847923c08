"""OpenAI chat requests used across the Gemini translator tests (each must translate into a body the
strict validator accepts)."""

from __future__ import annotations

import base64

PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
SIG = base64.b64encode(b"opaque-thought-signature-bytes").decode()

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"anyOf": [{"type": "string", "enum": ["c", "f"]}, {"type": "null"}]},
                "days": {"type": ["integer", "null"]},
                "kind": {"const": "forecast"},
                "where": {"$ref": "#/$defs/Loc"},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
            "$defs": {"Loc": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}}},
        },
    },
}
NOARG_TOOL = {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
CYCLIC_TOOL = {
    "type": "function",
    "function": {
        "name": "tree",
        "parameters": {
            "type": "object",
            "properties": {"root": {"$ref": "#/$defs/Node"}},
            "$defs": {"Node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
        },
    },
}


def tool_history(call_id: str = "call_1") -> list[dict]:
    return [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
        ]},
        {"role": "tool", "tool_call_id": call_id, "content": '{"temp": 20}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
    ]


FIXTURES: dict[str, dict] = {
    "plain": {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]},
    "system_only": {"model": "m", "messages": [{"role": "system", "content": "s"}]},
    "params": {
        "model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.3,
        "top_p": 0.9, "max_completion_tokens": 100, "n": 2, "stop": ["a", "b"], "seed": 7,
        "presence_penalty": 0.5, "frequency_penalty": 0.1, "logprobs": True, "top_logprobs": 3,
        "user": "Alice@Example", "parallel_tool_calls": True, "stream": True,
        "stream_options": {"include_usage": True}, "metadata": {"a": "b"}, "mock_testing_fallbacks": False,
    },
    "tools": {
        "model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}],
        "tools": [WEATHER_TOOL, NOARG_TOOL, CYCLIC_TOOL], "tool_choice": "required",
    },
    "named_tool_choice": {
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    },
    "tool_history": {"model": "m", "messages": tool_history(), "tools": [WEATHER_TOOL]},
    "tool_history_then_user": {"model": "m", "messages": tool_history() + [
        {"role": "assistant", "content": "Paris 20, Rome sunny"}, {"role": "user", "content": "thanks"}]},
    "vision": {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        {"type": "image_url", "image_url": {"url": "gs://bucket/cat.jpg"}},
        {"type": "input_audio", "input_audio": {"data": PNG_B64, "format": "wav"}},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PNG_B64}"}},
        {"type": "file", "file": {"file_id": "gs://bucket/doc.pdf"}},
    ]}]},
    "json_object": {"model": "m", "messages": [{"role": "user", "content": "j"}], "response_format": {"type": "json_object"}},
    "json_schema": {"model": "m", "messages": [{"role": "user", "content": "j"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {
            "type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}}}},
    "thinking_25": {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "t"}], "reasoning_effort": "low"},
    "thinking_3": {"model": "gemini-3-pro-preview", "messages": [{"role": "user", "content": "t"}], "reasoning_effort": "high"},
    "safety": {"model": "m", "messages": [{"role": "user", "content": "s"}], "safety_settings": [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]},
}
