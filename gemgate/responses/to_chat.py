"""Responses API request (+ the stored conversation before it) -> the router's canonical chat request.

Pure: data in, data out. Every Responses field is mapped to its chat equivalent or refused with a
400 naming it; `drop_params` (request, or litellm_settings via `drop_default`) drops refusable
fields instead. Other top-level fields (gateway extras, and Responses fields such as `background`
or `prompt_cache_key` when not at their default) are passed on as chat extras, where the provider
adapters refuse them by name or drop them under drop_params (also per deployment), as for chat.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from typing import Any

from gemgate.errors import invalid
from gemgate.responses.ids import item_id
from gemgate.responses.reasoning import decode_blocks

ROLES = ("user", "system", "developer", "assistant")
SUMMARY_MODES = ("auto", "concise", "detailed")
# Responses fields consumed here or by the servicer (never chat params)
_OWN = {
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning",
    "max_output_tokens", "temperature", "top_p", "metadata", "user", "store", "previous_response_id",
    "include", "drop_params", "stream",
}
# Responses fields at their default value mean nothing to translate
_DEFAULTS = {"background": (False,), "truncation": ("disabled",)}
# Responses fields whose meaning the chat shape cannot carry: refused here by name
_REFUSED = {"conversation", "prompt", "top_logprobs", "stream_options", "context_management"}
_INCLUDABLE = {"reasoning.encrypted_content"}


@dataclass
class ChatPlan:
    chat: dict                                  # the canonical chat request for the router
    input_items: list[dict]                     # the whole context (history + this input), with ids
    new_items: list[dict] = field(default_factory=list)  # this request's own input items
    summary: bool = False                       # return reasoning summaries


class _Refuser:
    def __init__(self, drop: bool) -> None:
        self.drop = drop

    def __call__(self, param: str, message: str) -> None:
        """Refuse `param` (400 naming it) unless drop_params is on, in which case it is ignored."""
        if not self.drop:
            raise invalid(f"{message} (set drop_params: true to ignore it)", param, code="unsupported_parameter")


def normalize_input(req: dict) -> list[dict]:
    """The request's input as items, each with an id (as stored and listed by input_items)."""
    inp = req.get("input")
    if isinstance(inp, str):
        items = [{"type": "message", "role": "user", "content": inp}]
    else:
        items = [dict(i) for i in inp or ()]
    for item in items:
        if (item.get("type") or "message") == "message" and isinstance(item.get("content"), str):
            ptype = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": ptype, "text": item["content"]}]
        item.setdefault("type", "message")
        if not item.get("id"):
            item["id"] = item_id(item.get("type") or "message")
    return items


def _text_of(parts: list[dict], p: str, allowed: tuple[str, ...]) -> str:
    texts = []
    for j, part in enumerate(parts):
        t = part.get("type")
        if t not in allowed:
            raise invalid(f"content part type {t!r} is not supported here", f"{p}[{j}].type")
        texts.append(part.get("refusal") if t == "refusal" else part.get("text") or "")
    return "".join(texts)


def _uri(part: dict, p: str, key: str) -> str:
    file_id = part.get("file_id")
    if file_id:
        if not file_id.startswith(("gs://", "https://", "http://")):
            raise invalid("OpenAI file ids are not supported; send the content inline (data: URI) or a URL", f"{p}.file_id")
        return file_id
    value = part.get(key)
    if not value:
        raise invalid(f"{key} is required", f"{p}.{key}")
    return value


def _user_part(part: dict, p: str) -> dict:
    t = part.get("type")
    if t in ("input_text", "output_text"):
        return {"type": "text", "text": part.get("text") or ""}
    if t == "input_image":
        img = {"url": _uri(part, p, "image_url")}
        if part.get("detail"):
            img["detail"] = part["detail"]
        return {"type": "image_url", "image_url": img}
    if t == "input_file":
        f: dict[str, Any] = {}
        if part.get("file_data"):
            data = part["file_data"]
            mime = mimetypes.guess_type(part.get("filename") or "")[0] or "application/pdf"
            f["file_data"] = data if data.startswith("data:") else f"data:{mime};base64,{data}"
        else:
            f["file_id"] = _uri(part, p, "file_url")
        if part.get("filename"):
            f["filename"] = part["filename"]
        return {"type": "file", "file": f}
    raise invalid(f"content part type {t!r} is not supported", f"{p}.type")


class _Conversation:
    """Builds chat messages from items, merging assistant text, reasoning and function calls."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.reasoning: dict | None = None  # pending reasoning for the next assistant message

    def _assistant(self) -> dict:
        last = self.messages[-1] if self.messages else None
        if last is None or last["role"] != "assistant" or self.reasoning is not None:
            last = {"role": "assistant", "content": None}
            self.messages.append(last)
        if self.reasoning is not None:
            last.update(self.reasoning)
            self.reasoning = None
        return last

    def message(self, item: dict, p: str) -> None:
        role = item.get("role")
        if role not in ROLES:
            raise invalid(f"role must be one of {', '.join(ROLES)}", f"{p}.role")
        content = item.get("content")
        if role == "assistant":
            text = content if isinstance(content, str) else _text_of(content or [], f"{p}.content",
                                                                     ("output_text", "refusal", "input_text"))
            msg = self._assistant()
            if msg.get("tool_calls"):  # text after calls: a new assistant turn
                msg = {"role": "assistant", "content": None}
                self.messages.append(msg)
            msg["content"] = (msg.get("content") or "") + text
            return
        if self.reasoning is not None:
            self.reasoning = None  # reasoning without an assistant turn after it carries nothing
        if isinstance(content, str):
            self.messages.append({"role": role, "content": content})
        else:
            parts = [_user_part(x, f"{p}.content[{j}]") for j, x in enumerate(content or [])]
            if role != "user" and any(x["type"] != "text" for x in parts):
                raise invalid(f"{role} messages take text only", f"{p}.content")
            self.messages.append({"role": role, "content": parts})

    def function_call(self, item: dict, p: str) -> None:
        for key in ("call_id", "name"):
            if not item.get(key):
                raise invalid(f"function_call items need {key}", f"{p}.{key}")
        msg = self._assistant()
        msg.setdefault("tool_calls", []).append({
            "id": item["call_id"], "type": "function",
            "function": {"name": item["name"], "arguments": item.get("arguments") or "{}"},
        })

    def function_output(self, item: dict, p: str) -> None:
        if not item.get("call_id"):
            raise invalid("function_call_output items need call_id", f"{p}.call_id")
        output = item.get("output")
        if not isinstance(output, str):
            output = _text_of(output or [], f"{p}.output", ("input_text", "output_text"))
        self.messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": output})

    def reasoning_item(self, item: dict, p: str) -> None:
        r: dict[str, Any] = {}
        text = "".join(s.get("text") or "" for s in item.get("summary") or ())
        text += "".join(c.get("text") or "" for c in item.get("content") or ())
        if text:
            r["reasoning_content"] = text
        if item.get("encrypted_content"):
            r["thinking_blocks"] = decode_blocks(item["encrypted_content"], f"{p}.encrypted_content")
        self.reasoning = r


def _messages(items: list[dict], offset_param: int, instructions: str | None) -> list[dict]:
    conv = _Conversation()
    if instructions:
        conv.messages.append({"role": "system", "content": instructions})
    for i, item in enumerate(items):
        p = f"input[{i - offset_param}]" if i >= offset_param else f"previous_response_id (item {i})"
        t = item.get("type") or "message"
        if t == "message":
            conv.message(item, p)
        elif t == "function_call":
            conv.function_call(item, p)
        elif t == "function_call_output":
            conv.function_output(item, p)
        elif t == "reasoning":
            conv.reasoning_item(item, p)
        else:
            raise invalid(f"input item type {t!r} is not supported (only message, function_call, "
                          "function_call_output and reasoning items)", f"{p}.type", code="unsupported_parameter")
    return conv.messages


def _tools(req: dict, chat: dict, refuse: _Refuser) -> None:
    tools = []
    for i, t in enumerate(req.get("tools") or ()):
        if t.get("type") != "function":
            refuse(f"tools[{i}].type", f"tool type {t.get('type')!r} is not supported (function tools only)")
            continue
        fn: dict[str, Any] = {"name": t["name"]}
        for key in ("description", "parameters", "strict"):
            if t.get(key) is not None:
                fn[key] = t[key]
        tools.append({"type": "function", "function": fn})
    if tools:
        chat["tools"] = tools
    tc = req.get("tool_choice")
    if isinstance(tc, str):
        if tc not in ("none", "auto", "required"):
            raise invalid("tool_choice must be none, auto, required or a function object", "tool_choice")
        chat["tool_choice"] = tc
    elif isinstance(tc, dict):
        if tc.get("type") == "function" and tc.get("name"):
            chat["tool_choice"] = {"type": "function", "function": {"name": tc["name"]}}
        else:
            refuse("tool_choice", f"tool_choice type {tc.get('type')!r} is not supported")
    if req.get("parallel_tool_calls") is not None:
        chat["parallel_tool_calls"] = req["parallel_tool_calls"]


def _text_format(req: dict, chat: dict, refuse: _Refuser) -> None:
    text = req.get("text") or {}
    fmt = text.get("format")
    if fmt:
        t = fmt.get("type")
        if t == "json_object":
            chat["response_format"] = {"type": "json_object"}
        elif t == "json_schema":
            if not fmt.get("name"):
                raise invalid("text.format.name is required for json_schema", "text.format.name")
            if not isinstance(fmt.get("schema"), dict):
                raise invalid("text.format.schema is required for json_schema", "text.format.schema")
            js = {"name": fmt["name"], "schema": fmt["schema"]}
            for key in ("description", "strict"):
                if fmt.get(key) is not None:
                    js[key] = fmt[key]
            chat["response_format"] = {"type": "json_schema", "json_schema": js}
        elif t != "text":
            raise invalid("text.format.type must be text, json_object or json_schema", "text.format.type")
    verbosity = text.get("verbosity")
    if verbosity and verbosity != "medium":
        refuse("text.verbosity", "text.verbosity is not supported by this gateway's providers")


def to_chat(req: dict, history: list[dict] | None = None, *, drop_default: bool = False) -> ChatPlan:
    """Translate a Responses request (OpenAI JSON) and the stored context before it into a chat
    request. `history` is the previous response's input items + output (empty without one)."""
    history = list(history or ())
    refuse = _Refuser(bool(req.get("drop_params", drop_default)))
    if req.get("input") in (None, "", []) and not history:
        raise invalid("input is required", "input")
    new_items = normalize_input(req) if req.get("input") not in (None, "", []) else []
    items = history + new_items
    chat: dict[str, Any] = {"model": req["model"], "messages": _messages(items, len(history), req.get("instructions"))}
    if not chat["messages"]:
        raise invalid("input is required", "input")
    _tools(req, chat, refuse)
    _text_format(req, chat, refuse)
    reasoning = req.get("reasoning") or {}
    if reasoning.get("effort"):
        chat["reasoning_effort"] = reasoning["effort"]
    summary = reasoning.get("summary")
    if summary and summary not in (*SUMMARY_MODES, "none"):
        raise invalid("reasoning.summary must be auto, concise, detailed or none", "reasoning.summary")
    mot = req.get("max_output_tokens")
    if mot is not None:
        if mot < 1:
            raise invalid("max_output_tokens must be at least 1", "max_output_tokens")
        chat["max_completion_tokens"] = mot
    for key in ("temperature", "top_p", "user", "metadata", "drop_params"):
        if req.get(key) is not None:
            chat[key] = req[key]
    for i, inc in enumerate(req.get("include") or ()):
        if inc not in _INCLUDABLE:
            refuse(f"include[{i}]", f"include value {inc!r} is not supported")
    for key, value in req.items():
        if key in _OWN or value is None or value in _DEFAULTS.get(key, ()):
            continue
        if key in _REFUSED:
            refuse(key, f"{key} is not supported by gemgate's Responses API")
            continue
        # gateway extras (mock_*, fallbacks, ...) and fields such as background, truncation,
        # prompt_cache_key, service_tier: the provider adapter supports, refuses (naming the field)
        # or drops them under drop_params (request, deployment or litellm_settings), as for chat
        chat[key] = value
    return ChatPlan(chat=chat, input_items=items, new_items=new_items, summary=summary in SUMMARY_MODES)
