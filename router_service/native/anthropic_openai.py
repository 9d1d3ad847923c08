"""Anthropic Messages <-> OpenAI chat shape, for model groups served by non-Claude deployments
(pure, no IO). Claude deployments never see this: they get the Messages body itself.

Request mapping (`to_openai`): system -> system message; text / image / document blocks -> content
parts (base64 and URL sources); tool_use -> tool_calls; tool_result -> tool messages (`is_error`
results become `{"error": ...}`, Gemini's error convention; images / documents inside a result follow
the tool results as user content); tools (custom) -> functions;
tool_choice auto/any/tool/none -> auto/required/function/none, disable_parallel_tool_use ->
parallel_tool_calls false; max_tokens, stop_sequences, temperature, top_p, top_k as is;
metadata.user_id -> user; thinking -> `thinking` (the Gemini translator turns the budget into
thinkingConfig). `cache_control` is a caching hint: Gemini caches repeated prefixes implicitly, so
it needs no field. Earlier `thinking` / `redacted_thinking` blocks are not sent back (Gemini takes
no thought text as input; its thought signatures travel inside the tool_use ids). Anything else
(server tools, citations, document titles, unknown fields) is a 400 naming the field, unless
drop_params.

`strict=False` gives a best-effort translation that never refuses (used only to estimate the cost
of a request before a deployment is chosen).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from gemgate.errors import invalid

KNOWN = {"model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences", "temperature",
         "top_p", "top_k", "metadata", "thinking", "stream"}
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal",
                "function_call": "tool_use"}
_BLOCK_FIELDS = {
    "text": {"type", "text", "cache_control", "citations"},
    "image": {"type", "source", "cache_control"},
    "document": {"type", "source", "cache_control", "title", "context", "citations"},
    "tool_use": {"type", "id", "name", "input", "cache_control"},
    "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control"},
    "thinking": {"type", "thinking", "signature"},
    "redacted_thinking": {"type", "data"},
}


class _Mapper:
    def __init__(self, strict: bool, drop: bool) -> None:
        self.strict, self.drop = strict, drop

    def refuse(self, what: str, param: str) -> bool:
        """A field with no equivalent: 400 (strict, no drop_params) or skip it (returns True)."""
        if self.strict and not self.drop:
            raise invalid(f"{param}: {what} is not supported by this model group's deployment "
                          "(set drop_params: true to drop it)", param, code="unsupported_parameter")
        return True

    # ---- blocks ----
    def check_fields(self, block: dict, where: str) -> None:
        if block.get("type") not in _BLOCK_FIELDS:
            self.refuse(f"content block type {block.get('type')!r}", f"{where}.type")
            return
        allowed = _BLOCK_FIELDS[block["type"]]
        for key in sorted(set(block) - allowed):
            if block[key] is not None:
                self.refuse(f"field {key!r}", f"{where}.{key}")
        if block.get("citations") not in (None, [], {"enabled": False}):
            self.refuse("citations", f"{where}.citations")

    def media_part(self, block: dict, where: str) -> dict | None:
        src = block.get("source") if isinstance(block.get("source"), dict) else {}
        stype, btype = src.get("type"), block.get("type")
        if btype == "document":
            for key in ("title", "context"):
                if block.get(key) is not None:
                    self.refuse(f"document {key}", f"{where}.{key}")
        if stype == "base64":
            uri = f"data:{src.get('media_type', '')};base64,{src.get('data', '')}"
            if btype == "image":
                return {"type": "image_url", "image_url": {"url": uri}}
            return {"type": "file", "file": {"file_data": uri}}
        if stype == "url" and isinstance(src.get("url"), str):
            if btype == "image":
                return {"type": "image_url", "image_url": {"url": src["url"]}}
            return {"type": "file", "file": {"file_id": src["url"]}}
        if stype == "text" and btype == "document":
            return {"type": "text", "text": str(src.get("data") or "")}
        if stype == "content" and btype == "document" and isinstance(src.get("content"), list):
            texts = [b.get("text", "") for b in src["content"] if isinstance(b, dict) and b.get("type") == "text"]
            return {"type": "text", "text": "\n".join(texts)}
        self.refuse(f"{btype} source type {stype!r}", f"{where}.source.type")
        return None

    def user_parts(self, blocks: list, where: str) -> tuple[list[dict], list[dict]]:
        """-> (tool messages, user content parts)."""
        tools: list[dict] = []
        parts: list[dict] = []
        media: list[dict] = []
        for i, b in enumerate(blocks):
            w = f"{where}.{i}"
            if not isinstance(b, dict):
                continue
            self.check_fields(b, w)
            btype = b.get("type")
            if btype == "text":
                parts.append({"type": "text", "text": str(b.get("text") or "")})
            elif btype in ("image", "document"):
                part = self.media_part(b, w)
                if part is not None:
                    parts.append(part)
            elif btype == "tool_result":
                tools.append(self.tool_result(b, w, media))
            elif btype in ("thinking", "redacted_thinking"):
                continue
            else:
                self.refuse(f"content block type {btype!r}", f"{w}.type")
        return tools, media + parts

    def tool_result(self, b: dict, where: str, media: list[dict]) -> dict:
        """-> the tool message; images / documents of the result go to `media` (sent as user
        content right after the tool results: chat tool messages carry text only)."""
        content = b.get("content")
        if isinstance(content, list):
            texts = []
            for j, c in enumerate(content):
                if isinstance(c, dict) and c.get("type") == "text":
                    texts.append(str(c.get("text") or ""))
                elif isinstance(c, dict) and c.get("type") in ("image", "document"):
                    part = self.media_part(c, f"{where}.content.{j}")
                    if part is not None:
                        media.append(part)
                elif isinstance(c, dict):
                    self.refuse(f"{c.get('type')!r} content inside tool_result", f"{where}.content.{j}.type")
            text = "\n".join(texts)
        else:
            text = "" if content is None else str(content)
        if b.get("is_error"):
            text = json.dumps({"error": text}, ensure_ascii=False)
        return {"role": "tool", "tool_call_id": str(b.get("tool_use_id") or ""), "content": text}

    def assistant(self, blocks: list, where: str) -> dict:
        texts: list[str] = []
        calls: list[dict] = []
        for i, b in enumerate(blocks):
            w = f"{where}.{i}"
            if not isinstance(b, dict):
                continue
            self.check_fields(b, w)
            btype = b.get("type")
            if btype == "text":
                texts.append(str(b.get("text") or ""))
            elif btype == "tool_use":
                calls.append({"id": str(b.get("id") or ""), "type": "function",
                              "function": {"name": str(b.get("name") or ""),
                                           "arguments": json.dumps(b.get("input") or {}, ensure_ascii=False)}})
            elif btype in ("thinking", "redacted_thinking"):
                continue  # see module docstring
            else:
                self.refuse(f"content block type {btype!r}", f"{w}.type")
        msg: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
        if calls:
            msg["tool_calls"] = calls
        return msg

    # ---- top level ----
    def messages(self, body: dict) -> list[dict]:
        out: list[dict] = []
        system = body.get("system")
        if isinstance(system, str) and system:
            out.append({"role": "system", "content": system})
        elif isinstance(system, list) and system:
            for i, b in enumerate(system):
                if isinstance(b, dict):
                    self.check_fields(b, f"system.{i}")
            out.append({"role": "system", "content": [{"type": "text", "text": str(b.get("text") or "")}
                                                      for b in system if isinstance(b, dict)]})
        for i, m in enumerate(body.get("messages") or []):
            where = f"messages.{i}.content"
            content = m.get("content")
            if m.get("role") == "assistant":
                if isinstance(content, str):
                    out.append({"role": "assistant", "content": content})
                else:
                    out.append(self.assistant(content or [], where))
                continue
            if isinstance(content, str):
                out.append({"role": "user", "content": content})
                continue
            tools, parts = self.user_parts(content or [], where)
            out.extend(tools)
            if parts:
                out.append({"role": "user", "content": parts})
        return out

    def tools(self, body: dict, out: dict) -> None:
        tools = []
        for i, t in enumerate(body.get("tools") or []):
            ttype = t.get("type")
            if ttype not in (None, "custom"):
                self.refuse(f"tool type {ttype!r}", f"tools.{i}.type")
                continue
            for key in sorted(set(t) - {"type", "name", "description", "input_schema", "cache_control"}):
                self.refuse(f"tool field {key!r}", f"tools.{i}.{key}")
            fn: dict[str, Any] = {"name": t.get("name", ""), "parameters": t.get("input_schema") or {"type": "object"}}
            if t.get("description"):
                fn["description"] = t["description"]
            tools.append({"type": "function", "function": fn})
        if tools:
            out["tools"] = tools
        tc = body.get("tool_choice")
        if isinstance(tc, dict):
            kind = tc.get("type")
            if kind == "auto":
                out["tool_choice"] = "auto"
            elif kind == "any":
                out["tool_choice"] = "required"
            elif kind == "none":
                out["tool_choice"] = "none"
            elif kind == "tool":
                out["tool_choice"] = {"type": "function", "function": {"name": str(tc.get("name") or "")}}
            else:
                self.refuse(f"tool_choice type {kind!r}", "tool_choice.type")
            if tc.get("disable_parallel_tool_use") and tools:
                out["parallel_tool_calls"] = False


def to_openai(body: dict, *, group: str, strict: bool = True, drop: bool = False) -> dict:
    """Anthropic Messages body -> OpenAI chat request dict (see module docstring)."""
    m = _Mapper(strict, drop)
    for key in sorted(k for k in body if k not in KNOWN and body[k] is not None):
        m.refuse(f"parameter {key!r}", key)
    out: dict[str, Any] = {"model": group, "messages": m.messages(body)}
    for key in ("max_tokens", "temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    m.tools(body, out)
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        for key in sorted(set(metadata) - {"user_id"}):
            m.refuse(f"metadata field {key!r}", f"metadata.{key}")
        if metadata.get("user_id"):
            out["user"] = str(metadata["user_id"])
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled"):
        out["thinking"] = dict(thinking)
    elif thinking is not None:
        m.refuse(f"thinking type {thinking.get('type') if isinstance(thinking, dict) else thinking!r}", "thinking.type")
    if drop:
        out["drop_params"] = True
    return out


# ---------------------------------------------------------------- responses

def usage_to_anthropic(usage: dict | None) -> dict:
    u = usage or {}
    cached = int(((u.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
    prompt = int(u.get("prompt_tokens") or 0)
    return {"input_tokens": max(0, prompt - cached), "output_tokens": int(u.get("completion_tokens") or 0),
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached}


def message_id(openai_id: str | None) -> str:
    base = (openai_id or uuid.uuid4().hex).removeprefix("chatcmpl-")
    return base if base.startswith("msg_") else "msg_" + base


def _tool_input(arguments: str | None) -> dict:
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return {"_raw_arguments": arguments}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def from_openai(resp: dict, *, group: str) -> dict:
    """OpenAI chat.completion dict -> Anthropic message dict."""
    choice = (resp.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    content: list[dict] = []
    if msg.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": msg["reasoning_content"], "signature": ""})
    if msg.get("content"):
        content.append({"type": "text", "text": msg["content"]})
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id") or "toolu_" + uuid.uuid4().hex,
                        "name": fn.get("name", ""), "input": _tool_input(fn.get("arguments"))})
    return {"id": message_id(resp.get("id")), "type": "message", "role": "assistant", "model": group,
            "content": content, "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"),
            "stop_sequence": None, "usage": usage_to_anthropic(resp.get("usage"))}


class AnthropicStreamFromOpenAI:
    """OpenAI chunks -> Anthropic SSE events: message_start, ping, content_block_start/delta/stop
    (thinking_delta, text_delta, input_json_delta), message_delta (stop_reason + usage),
    message_stop. `finish()` closes the message once the final usage chunk has been seen."""

    def __init__(self, *, group: str) -> None:
        self.group = group
        self.started = False
        self.index = -1
        self.open: str | None = None  # "thinking" | "text" | "tool:<openai index>"
        self.finish_reason: str | None = None
        self.usage: dict | None = None

    def _start(self, chunk_id: str | None) -> list[dict]:
        self.started = True
        message = {"id": message_id(chunk_id), "type": "message", "role": "assistant", "model": self.group,
                   "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 0, "output_tokens": 0}}
        return [{"type": "message_start", "message": message}, {"type": "ping"}]

    def _close(self) -> list[dict]:
        if self.open is None:
            return []
        self.open = None
        return [{"type": "content_block_stop", "index": self.index}]

    def _open(self, kind: str, block: dict) -> list[dict]:
        out = self._close()
        self.index += 1
        self.open = kind
        return out + [{"type": "content_block_start", "index": self.index, "content_block": block}]

    def feed(self, chunk: dict) -> list[dict]:
        out: list[dict] = [] if self.started else self._start(chunk.get("id"))
        if chunk.get("usage") is not None and not chunk.get("choices"):
            self.usage = chunk["usage"]
            return out
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                if self.open != "thinking":
                    out += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                out.append({"type": "content_block_delta", "index": self.index,
                            "delta": {"type": "thinking_delta", "thinking": delta["reasoning_content"]}})
            if delta.get("content"):
                if self.open != "text":
                    out += self._open("text", {"type": "text", "text": ""})
                out.append({"type": "content_block_delta", "index": self.index,
                            "delta": {"type": "text_delta", "text": delta["content"]}})
            for call in delta.get("tool_calls") or []:
                key = f"tool:{call.get('index', 0)}"
                fn = call.get("function") or {}
                if self.open != key:
                    out += self._open(key, {"type": "tool_use", "id": call.get("id") or "toolu_" + uuid.uuid4().hex,
                                            "name": fn.get("name") or "", "input": {}})
                if fn.get("arguments"):
                    out.append({"type": "content_block_delta", "index": self.index,
                                "delta": {"type": "input_json_delta", "partial_json": fn["arguments"]}})
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> list[dict]:
        out: list[dict] = [] if self.started else self._start(None)
        out += self._close()
        stop = STOP_REASONS.get(self.finish_reason or "stop", "end_turn")
        out.append({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": usage_to_anthropic(self.usage)})
        out.append({"type": "message_stop"})
        return out
