"""OpenAI chat request dict -> Anthropic Messages body for Claude on Vertex (pure, no IO).

The body has no `model` (it is in the URL) and carries `anthropic_version: vertex-2023-10-16`.
response_format json_object/json_schema is implemented by tool forcing: a tool named
JSON_TOOL_NAME whose input_schema is the requested schema, with tool_choice forcing it; the response
side turns that tool call back into message content (see response.py / stream.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

from gemgate.errors import invalid

ANTHROPIC_VERSION = "vertex-2023-10-16"
JSON_TOOL_NAME = "gemgate_json_response"

# (substring of the model id, default max_tokens) - first match wins
_DEFAULT_MAX_TOKENS: list[tuple[str, int]] = [
    ("claude-3-haiku", 4096),
    ("claude-3-opus", 4096),
    ("claude-3-sonnet", 4096),
    ("claude-3-5", 8192),
    ("claude-3-7", 64000),
    ("claude-opus-4-5", 64000),
    ("claude-opus-4", 32000),
    ("claude-sonnet-4", 64000),
    ("claude-haiku-4", 64000),
]
FALLBACK_MAX_TOKENS = 4096

THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}

# params translated below
_HANDLED = {
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "top_k", "stop", "tools", "tool_choice", "parallel_tool_calls",
    "reasoning_effort", "user", "response_format", "n", "drop_params", "metadata", "thinking",
}
# gateway-level switches the router consumes; never an upstream concern
_IGNORED_PREFIXES = ("mock_",)

_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.S)
_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


def default_max_tokens(model: str) -> int:
    name = model.rsplit("/", 1)[-1]
    for needle, value in _DEFAULT_MAX_TOKENS:
        if needle in name:
            return value
    return FALLBACK_MAX_TOKENS


def _unsupported(req: dict, drop: bool) -> None:
    for key, value in req.items():
        if key in _HANDLED or key.startswith(_IGNORED_PREFIXES) or value is None:
            continue
        if not drop:
            raise invalid(
                f"parameter {key!r} is not supported for Claude models (set drop_params: true to drop it)",
                key,
                code="unsupported_parameter",
            )


def _image_block(part: dict, where: str) -> dict:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise invalid("image_url.url is required", where)
    m = _DATA_URI.match(url)
    if m:
        mime = m.group("mime").lower()
        if mime not in _IMAGE_TYPES:
            raise invalid(f"image type {mime!r} is not supported by Claude (jpeg, png, gif, webp)", where)
        return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": m.group("data")}}
    if url.startswith("https://"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise invalid("image_url must be a data: URI (base64) or an https:// URL for Claude models", where)


def _content_blocks(content: Any, where: str, *, allow_images: bool) -> list[dict]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise invalid("content must be a string or a list of parts", where)
    blocks = []
    for i, part in enumerate(content):
        ptype = part.get("type") if isinstance(part, dict) else None
        if ptype == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif ptype == "image_url" and allow_images:
            blocks.append(_image_block(part, f"{where}[{i}]"))
        else:
            raise invalid(f"content part type {ptype!r} is not supported for Claude models here", f"{where}[{i}]")
    return blocks


def _tool_use_blocks(tool_calls: list, where: str) -> list[dict]:
    blocks = []
    for j, call in enumerate(tool_calls):
        fn = call.get("function") or {}
        args = fn.get("arguments") or "{}"
        try:
            parsed = json.loads(args) if isinstance(args, str) else args
        except ValueError:
            raise invalid("tool call arguments must be a JSON object", f"{where}[{j}].function.arguments") from None
        if not isinstance(parsed, dict):
            raise invalid("tool call arguments must be a JSON object", f"{where}[{j}].function.arguments")
        if not call.get("id") or not fn.get("name"):
            raise invalid("tool calls need an id and a function name", f"{where}[{j}]")
        blocks.append({"type": "tool_use", "id": call["id"], "name": fn["name"], "input": parsed})
    return blocks


def _thinking_blocks(blocks: Any, where: str) -> list[dict]:
    """An assistant message's `thinking_blocks` (as returned by gemgate), first in its turn."""
    out = []
    for j, b in enumerate(blocks or []):
        if not isinstance(b, dict):
            raise invalid("thinking blocks must be objects", f"{where}[{j}]")
        if b.get("type") == "redacted_thinking" and b.get("data"):
            out.append({"type": "redacted_thinking", "data": b["data"]})
        elif b.get("type") == "thinking" and b.get("signature"):
            out.append({"type": "thinking", "thinking": b.get("thinking") or "", "signature": b["signature"]})
        else:
            raise invalid("thinking blocks need type thinking (with a signature) or redacted_thinking (with data)",
                          f"{where}[{j}]")
    return out


def _tool_result_block(msg: dict, where: str) -> dict:
    if not msg.get("tool_call_id"):
        raise invalid("tool messages need a tool_call_id", f"{where}.tool_call_id")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": msg["tool_call_id"]}
    content = _content_blocks(msg.get("content"), f"{where}.content", allow_images=True)
    if content:
        only_text = all(b["type"] == "text" for b in content)
        block["content"] = "".join(b["text"] for b in content) if only_text and len(content) == 1 else content
    if msg.get("is_error"):
        block["is_error"] = True
    return block


def _messages(req: dict) -> tuple[list[dict], list[dict]]:
    system: list[dict] = []
    turns: list[dict] = []  # {"role", "content": [blocks]}
    pending_calls: set[str] = set()  # tool_use ids of the latest assistant turn
    msgs = req.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise invalid("messages must be a non-empty list", "messages")
    for i, msg in enumerate(msgs):
        where = f"messages[{i}]"
        role = msg.get("role")
        if role in ("system", "developer"):
            system.extend(_content_blocks(msg.get("content"), f"{where}.content", allow_images=False))
            continue
        if role == "user":
            blocks = _content_blocks(msg.get("content"), f"{where}.content", allow_images=True)
            if not blocks:
                raise invalid(f"{where} has empty content", f"{where}.content")
            a_role = "user"
        elif role == "assistant":
            blocks = _thinking_blocks(msg.get("thinking_blocks"), f"{where}.thinking_blocks")
            blocks += _content_blocks(msg.get("content"), f"{where}.content", allow_images=False)
            calls = _tool_use_blocks(msg.get("tool_calls") or [], f"{where}.tool_calls")
            blocks += calls
            if not blocks:
                raise invalid(f"{where} has empty content", f"{where}.content")
            pending_calls = {b["id"] for b in calls}
            a_role = "assistant"
        elif role in ("tool", "function"):
            if role == "function":
                raise invalid("legacy function messages are not supported; use tool messages", f"{where}.role")
            if msg.get("tool_call_id") not in pending_calls:
                raise invalid(
                    "tool message does not answer a tool call of the preceding assistant message",
                    f"{where}.tool_call_id",
                )
            blocks = [_tool_result_block(msg, where)]
            a_role = "user"
        else:
            raise invalid(f"message role {role!r} is not supported", f"{where}.role")
        if turns and turns[-1]["role"] == a_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": a_role, "content": blocks})
    for turn in turns:  # tool_result blocks must come first in their user turn
        if turn["role"] == "user":
            turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "."}]})
    last = turns[-1]
    if last["role"] == "assistant" and last["content"][-1]["type"] == "text":
        # Anthropic rejects a final assistant (prefill) text ending in whitespace
        last["content"][-1]["text"] = last["content"][-1]["text"].rstrip() or "."
    return system, turns


def _tools(req: dict) -> list[dict]:
    out = []
    for i, tool in enumerate(req.get("tools") or []):
        if tool.get("type", "function") != "function" or not isinstance(tool.get("function"), dict):
            raise invalid("only function tools are supported for Claude models", f"tools[{i}]")
        fn = tool["function"]
        if not fn.get("name"):
            raise invalid("tool function name is required", f"tools[{i}].function.name")
        schema = fn.get("parameters") or {"type": "object", "properties": {}}
        if schema.get("type") != "object":
            raise invalid("tool parameters must be a JSON schema of type object", f"tools[{i}].function.parameters")
        item = {"name": fn["name"], "input_schema": schema}
        if fn.get("description"):
            item["description"] = fn["description"]
        out.append(item)
    return out


def _tool_choice(req: dict, has_tools: bool) -> dict | None:
    tc = req.get("tool_choice")
    if tc is None:
        choice = None
    elif tc == "auto":
        choice = {"type": "auto"}
    elif tc == "required":
        choice = {"type": "any"}
    elif tc == "none":
        choice = {"type": "none"}
    elif isinstance(tc, dict) and isinstance(tc.get("function"), dict) and tc["function"].get("name"):
        choice = {"type": "tool", "name": tc["function"]["name"]}
    else:
        raise invalid("tool_choice must be auto, required, none or {type: function, function: {name}}", "tool_choice")
    if choice is not None and not has_tools:
        if choice["type"] == "none":
            return None
        raise invalid("tool_choice requires tools", "tool_choice")
    if req.get("parallel_tool_calls") is False and has_tools:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    return choice


def _json_tool(rf: dict) -> dict | None:
    rtype = rf.get("type")
    if rtype in (None, "text"):
        return None
    if rtype == "json_object":
        schema: dict = {"type": "object"}
        description = "Respond with a JSON object."
    elif rtype == "json_schema":
        js = rf.get("json_schema") or {}
        schema = js.get("schema") or {"type": "object"}
        if schema.get("type") != "object":
            raise invalid("response_format json_schema must describe an object for Claude models", "response_format")
        description = js.get("description") or f"Respond with JSON matching the schema {js.get('name', '')}".strip()
    else:
        raise invalid(f"response_format type {rtype!r} is not supported", "response_format")
    return {"name": JSON_TOOL_NAME, "description": description, "input_schema": schema}


def to_claude_request(req: dict, *, deployment: dict | None = None) -> dict:
    """OpenAI chat request dict -> Anthropic Messages body (no `model`) for Vertex rawPredict."""
    dep = deployment or {}
    drop = bool(req.get("drop_params") or dep.get("drop_params"))
    _unsupported(req, drop)
    if req.get("n") not in (None, 1):
        if not drop:
            raise invalid("n > 1 is not supported for Claude models", "n", code="unsupported_parameter")

    system, messages = _messages(req)
    body: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION, "messages": messages}
    model_name = str(dep.get("model") or req.get("model") or "")
    max_tokens = req.get("max_completion_tokens") or req.get("max_tokens") or dep.get("max_tokens")
    body["max_tokens"] = int(max_tokens) if max_tokens else default_max_tokens(model_name)
    if system:
        body["system"] = system

    temperature, top_p = req.get("temperature"), req.get("top_p")
    if temperature is not None:
        if not 0 <= temperature <= 1:
            raise invalid("temperature must be between 0 and 1 for Claude models", "temperature")
        body["temperature"] = temperature
    if top_p is not None:
        if temperature is not None:
            # current Claude models reject temperature and top_p together
            if not drop:
                raise invalid(
                    "Claude models accept temperature or top_p, not both", "top_p", code="unsupported_parameter"
                )
        else:
            body["top_p"] = top_p
    if req.get("top_k") is not None:
        body["top_k"] = req["top_k"]
    stop = req.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if req.get("user"):
        body["metadata"] = {"user_id": str(req["user"])}

    tools = _tools(req)
    choice = _tool_choice(req, bool(tools))
    json_tool = _json_tool(req.get("response_format") or {})
    if json_tool is not None:
        if choice is not None and choice["type"] != "auto":
            raise invalid("response_format cannot be combined with tool_choice for Claude models", "response_format")
        tools.append(json_tool)
        choice = {"type": "tool", "name": JSON_TOOL_NAME} if len(tools) == 1 else {"type": "any"}
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice

    effort = req.get("reasoning_effort")
    thinking = req.get("thinking")
    if effort is None and thinking is not None:
        if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
            raise invalid('thinking must be {"type": "enabled", "budget_tokens": N} or {"type": "disabled"}', "thinking")
        budget_tokens = thinking.get("budget_tokens")
        if thinking["type"] == "enabled":
            if not isinstance(budget_tokens, int) or isinstance(budget_tokens, bool) or budget_tokens < 1024:
                raise invalid("thinking.budget_tokens must be an integer >= 1024 for Claude", "thinking.budget_tokens")
            if body.get("temperature", 1) != 1:
                raise invalid("Claude extended thinking requires temperature 1 (or unset)", "temperature")
            if body["max_tokens"] <= budget_tokens:
                if max_tokens:
                    raise invalid("max_tokens must exceed thinking.budget_tokens on Claude", "max_tokens")
                body["max_tokens"] = budget_tokens + default_max_tokens(model_name)
            body["thinking"] = {"type": "enabled", "budget_tokens": budget_tokens}
    if effort is not None and effort != "none":
        if effort not in THINKING_BUDGETS:
            raise invalid("reasoning_effort must be one of none, minimal, low, medium, high", "reasoning_effort")
        if json_tool is not None or (choice and choice["type"] in ("any", "tool")):
            raise invalid("reasoning_effort cannot be combined with forced tool use on Claude models", "reasoning_effort")
        if body.get("temperature", 1) != 1:
            raise invalid("Claude extended thinking requires temperature 1 (or unset)", "temperature")
        budget = THINKING_BUDGETS[effort]
        if body["max_tokens"] <= budget:
            if max_tokens:
                budget = body["max_tokens"] - 1
                if budget < 1024:
                    raise invalid("max_tokens must exceed 1024 to use reasoning_effort on Claude", "max_tokens")
            else:
                body["max_tokens"] = budget + default_max_tokens(model_name)
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    return body
