"""Anthropic Messages response -> OpenAI chat.completion (pure)."""

from __future__ import annotations

import json
import time
import uuid

from router_service.providers.anthropic.request import JSON_TOOL_NAME

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "model_context_window_exceeded": "length",
    "pause_turn": "stop",
}


def finish_reason(stop_reason: str | None, *, saw_tool_calls: bool) -> str:
    mapped = STOP_REASONS.get(stop_reason or "", "stop")
    if mapped == "tool_calls" and not saw_tool_calls:
        return "stop"  # only the response_format tool was called
    return mapped


def usage_from_claude(usage: dict | None) -> dict:
    u = usage or {}
    cache_read = u.get("cache_read_input_tokens") or 0
    prompt = (u.get("input_tokens") or 0) + (u.get("cache_creation_input_tokens") or 0) + cache_read
    completion = u.get("output_tokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def from_claude_response(body: dict, *, model: str, created: int | None = None) -> dict:
    texts: list[str] = []
    thinking: list[str] = []
    thinking_blocks: list[dict] = []
    tool_calls: list[dict] = []
    for block in body.get("content") or []:
        btype = block.get("type")
        if btype == "text":
            texts.append(block.get("text", ""))
        elif btype == "thinking":
            thinking.append(block.get("thinking", ""))
            thinking_blocks.append({"type": "thinking", "thinking": block.get("thinking", ""),
                                    "signature": block.get("signature", "")})
        elif btype == "redacted_thinking":
            thinking_blocks.append({"type": "redacted_thinking", "data": block.get("data", "")})
        elif btype == "tool_use":
            if block.get("name") == JSON_TOOL_NAME:
                texts.append(json.dumps(block.get("input") or {}))
                continue
            tool_calls.append(
                {
                    "id": block.get("id") or "call_" + uuid.uuid4().hex,
                    "type": "function",
                    "function": {"name": block.get("name", ""), "arguments": json.dumps(block.get("input") or {})},
                }
            )
    message: dict = {"role": "assistant", "content": "".join(texts) if texts else None}
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    if thinking_blocks:  # sent back unchanged, they keep tool use with extended thinking working
        message["thinking_blocks"] = thinking_blocks
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-" + (body.get("id") or uuid.uuid4().hex),
        "object": "chat.completion",
        "created": created or int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason(body.get("stop_reason"), saw_tool_calls=bool(tool_calls)),
            }
        ],
        "usage": usage_from_claude(body.get("usage")),
    }
