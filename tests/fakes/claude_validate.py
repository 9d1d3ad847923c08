"""Strict validator of Claude-on-Vertex request bodies (Anthropic Messages via :rawPredict).

`validate_claude_body(body) -> None | dict`: None when valid, else Anthropic's error body
`{"type":"error","error":{"type":"invalid_request_error","message":...}}`. Rules follow the Messages
API: no `model` (it is in the URL), anthropic_version vertex-2023-10-16, max_tokens required, only
known top-level fields, roles user/assistant alternating starting with user, non-empty content,
tool_result blocks first in the user turn and answering exactly the previous assistant's tool_use
ids, temperature in 0..1, temperature and top_p not both (current models reject that), thinking
constraints, well-formed blocks.
"""

from __future__ import annotations

import re
from typing import Any

TOP_LEVEL = {
    "anthropic_version", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
    "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking",
}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


class Invalid(Exception):
    pass


def _error(message: str) -> dict:
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise Invalid(message)


def _text_block(b: dict, where: str) -> None:
    _need(set(b) <= {"type", "text", "cache_control", "citations"}, f"{where}: unexpected field")
    _need(isinstance(b.get("text"), str) and b["text"] != "", f"{where}.text: text content blocks must be non-empty")


def _image_block(b: dict, where: str) -> None:
    _need(set(b) <= {"type", "source", "cache_control"}, f"{where}: unexpected field")
    src = b.get("source")
    _need(isinstance(src, dict), f"{where}.source: Field required")
    if src.get("type") == "base64":
        _need(set(src) == {"type", "media_type", "data"}, f"{where}.source: base64 needs media_type and data")
        _need(src["media_type"] in IMAGE_TYPES, f"{where}.source.media_type: unsupported")
        _need(isinstance(src["data"], str) and src["data"] != "", f"{where}.source.data: empty")
    elif src.get("type") == "url":
        _need(set(src) == {"type", "url"} and str(src["url"]).startswith("https://"), f"{where}.source: bad url source")
    else:
        raise Invalid(f"{where}.source.type: must be base64 or url")


def _blocks(content: Any, where: str, allowed: set[str]) -> list[dict]:
    if isinstance(content, str):
        _need(content != "", f"{where}: messages must have non-empty content")
        return [{"type": "text", "text": content}]
    _need(isinstance(content, list) and content, f"{where}: messages must have non-empty content")
    for i, b in enumerate(content):
        w = f"{where}.{i}"
        _need(isinstance(b, dict), f"{w}: block must be an object")
        t = b.get("type")
        _need(t in allowed, f"{w}.type: {t!r} is not allowed here")
        if t == "text":
            _text_block(b, w)
        elif t == "image":
            _image_block(b, w)
        elif t == "tool_use":
            _need(set(b) <= {"type", "id", "name", "input", "cache_control"}, f"{w}: unexpected field")
            _need(isinstance(b.get("id"), str) and b["id"], f"{w}.id: Field required")
            _need(isinstance(b.get("name"), str) and TOOL_NAME.match(b["name"]), f"{w}.name: invalid")
            _need(isinstance(b.get("input"), dict), f"{w}.input: must be an object")
        elif t == "tool_result":
            _need(set(b) <= {"type", "tool_use_id", "content", "is_error", "cache_control"}, f"{w}: unexpected field")
            _need(isinstance(b.get("tool_use_id"), str) and b["tool_use_id"], f"{w}.tool_use_id: Field required")
            if "content" in b and not isinstance(b["content"], str):
                _blocks(b["content"], f"{w}.content", {"text", "image"})
            if "is_error" in b:
                _need(isinstance(b["is_error"], bool), f"{w}.is_error: must be a boolean")
        elif t == "thinking":
            _need(set(b) == {"type", "thinking", "signature"}, f"{w}: unexpected field")
            _need(isinstance(b.get("thinking"), str) and isinstance(b.get("signature"), str) and b["signature"],
                  f"{w}.signature: a thinking block must carry its signature")
        elif t == "redacted_thinking":
            _need(set(b) == {"type", "data"} and isinstance(b.get("data"), str), f"{w}: bad redacted_thinking")
        elif t == "document":
            _need(set(b) <= {"type", "source", "cache_control", "title", "context", "citations"}, f"{w}: unexpected field")
            src = b.get("source")
            _need(isinstance(src, dict) and src.get("type") in ("base64", "text", "url", "content"), f"{w}.source: invalid")
    return content


def _check(body: Any) -> None:
    _need(isinstance(body, dict), "body must be a JSON object")
    _need("model" not in body, "model: Extra inputs are not permitted (the model is in the URL on Vertex)")
    unknown = set(body) - TOP_LEVEL
    _need(not unknown, f"{sorted(unknown)[0] if unknown else ''}: Extra inputs are not permitted")
    _need(body.get("anthropic_version") == "vertex-2023-10-16", "anthropic_version: must be vertex-2023-10-16")
    mt = body.get("max_tokens")
    _need(isinstance(mt, int) and not isinstance(mt, bool) and mt >= 1, "max_tokens: Field required")
    if "temperature" in body:
        t = body["temperature"]
        _need(isinstance(t, (int, float)) and 0 <= t <= 1, "temperature: Input should be less than or equal to 1")
        _need("top_p" not in body, "`temperature` and `top_p` cannot both be specified for this model. Please use only one.")
    if "top_p" in body:
        _need(isinstance(body["top_p"], (int, float)) and 0 <= body["top_p"] <= 1, "top_p: out of range")
    if "stop_sequences" in body:
        ss = body["stop_sequences"]
        _need(isinstance(ss, list) and all(isinstance(s, str) and s.strip() for s in ss), "stop_sequences: invalid")
    if "system" in body:
        system = body["system"]
        if isinstance(system, list):
            for i, b in enumerate(system):
                _need(isinstance(b, dict) and b.get("type") == "text", f"system.{i}: must be a text block")
                _text_block(b, f"system.{i}")
        else:
            _need(isinstance(system, str), "system: must be a string or text blocks")
    if "metadata" in body:
        md = body["metadata"]
        _need(isinstance(md, dict) and set(md) <= {"user_id"}, "metadata: only user_id is allowed")
    tool_names: set[str] = set()
    for i, tool in enumerate(body.get("tools") or []):
        _need(isinstance(tool, dict) and set(tool) <= {"name", "description", "input_schema", "cache_control", "type"},
              f"tools.{i}: unexpected field")
        _need(isinstance(tool.get("name"), str) and TOOL_NAME.match(tool["name"]), f"tools.{i}.name: invalid")
        _need(tool["name"] not in tool_names, f"tools.{i}.name: duplicate tool name")
        tool_names.add(tool["name"])
        schema = tool.get("input_schema")
        _need(isinstance(schema, dict) and schema.get("type") == "object", f"tools.{i}.input_schema.type: must be object")
        _need("strict" not in schema, f"tools.{i}.input_schema: strict is not allowed")
    if "tools" in body:
        _need(isinstance(body["tools"], list) and body["tools"], "tools: must be a non-empty list")
    if "tool_choice" in body:
        tc = body["tool_choice"]
        _need(isinstance(tc, dict) and tc.get("type") in ("auto", "any", "tool", "none"), "tool_choice.type: invalid")
        _need(set(tc) <= {"type", "name", "disable_parallel_tool_use"}, "tool_choice: unexpected field")
        _need(tool_names or tc["type"] == "none", "tool_choice: requires tools")
        if tc["type"] == "tool":
            _need(tc.get("name") in tool_names, "tool_choice.name: must name a defined tool")
        else:
            _need("name" not in tc, "tool_choice.name: only with type tool")
    if "thinking" in body:
        th = body["thinking"]
        _need(isinstance(th, dict), "thinking: must be an object")
        if th.get("type") == "enabled":
            bt = th.get("budget_tokens")
            _need(set(th) == {"type", "budget_tokens"}, "thinking: unexpected field")
            _need(isinstance(bt, int) and 1024 <= bt < mt, "thinking.budget_tokens: must be >= 1024 and < max_tokens")
            _need(body.get("temperature", 1) == 1, "temperature may only be set to 1 when thinking is enabled")
            _need((body.get("tool_choice") or {}).get("type", "auto") in ("auto", "none"),
                  "Thinking may not be enabled when tool_choice forces tool use.")
        else:
            _need(th == {"type": "disabled"}, "thinking.type: invalid")

    msgs = body.get("messages")
    _need(isinstance(msgs, list) and msgs, "messages: at least one message is required")
    prev_role = None
    prev_tool_ids: set[str] = set()
    for i, m in enumerate(msgs):
        w = f"messages.{i}"
        _need(isinstance(m, dict) and set(m) == {"role", "content"}, f"{w}: must have exactly role and content")
        role = m["role"]
        _need(role in ("user", "assistant"), f"{w}.role: Input should be 'user' or 'assistant'")
        if i == 0:
            _need(role == "user", "messages: first message must use the \"user\" role")
        _need(role != prev_role, "messages: roles must alternate between \"user\" and \"assistant\"")
        if role == "user":
            blocks = _blocks(m["content"], f"{w}.content", {"text", "image", "document", "tool_result"})
            results = [b for b in blocks if b["type"] == "tool_result"]
            leading = 0
            while leading < len(blocks) and blocks[leading]["type"] == "tool_result":
                leading += 1
            _need(leading == len(results), f"{w}.content: tool_result blocks must come first in the user message")
            answered = [b["tool_use_id"] for b in results]
            for tid in answered:
                _need(tid in prev_tool_ids, f"{w}.content: unexpected `tool_use_id` found in `tool_result` blocks: {tid}")
            _need(len(set(answered)) == len(answered), f"{w}.content: duplicate tool_result")
            missing = prev_tool_ids - set(answered)
            _need(not missing, f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately after")
            prev_tool_ids = set()
        else:
            blocks = _blocks(m["content"], f"{w}.content", {"text", "tool_use", "thinking", "redacted_thinking"})
            prev_tool_ids = {b["id"] for b in blocks if b["type"] == "tool_use"}
            if i == len(msgs) - 1 and blocks[-1]["type"] == "text":
                _need(blocks[-1]["text"] == blocks[-1]["text"].rstrip(),
                      "final assistant content cannot end with trailing whitespace")
        prev_role = role
    if prev_tool_ids and msgs[-1]["role"] == "assistant":
        pass  # a trailing assistant tool_use turn is a prefill; Anthropic answers it as a continuation
    thinking_on = isinstance(body.get("thinking"), dict) and body["thinking"].get("type") == "enabled"
    assistants = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
    if thinking_on and assistants:
        last = assistants[-1]
        blocks = msgs[last]["content"]
        if any(b.get("type") == "tool_use" for b in blocks):
            first = blocks[0].get("type")
            _need(first in ("thinking", "redacted_thinking"),
                  f"messages.{last}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. "
                  "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
                  "(preceeding the lastmost set of `tool_use` and `tool_result` blocks).")


def validate_count_body(body: Any) -> dict | None:
    """Vertex's Claude count-tokens:rawPredict: the model and the prompt fields (no max_tokens)."""
    try:
        _need(isinstance(body, dict) and isinstance(body.get("model"), str) and body["model"].startswith("claude"),
              "model: Field required")
        unknown = set(body) - {"model", "messages", "system", "tools", "tool_choice", "thinking", "anthropic_version"}
        _need(not unknown, f"{sorted(unknown)[0] if unknown else ''}: Extra inputs are not permitted")
        _need(isinstance(body.get("messages"), list) and body["messages"], "messages: Field required")
    except Invalid as exc:
        return _error(str(exc))
    return None


def validate_claude_body(body: Any) -> dict | None:
    try:
        _check(body)
    except Invalid as exc:
        return _error(str(exc))
    return None
