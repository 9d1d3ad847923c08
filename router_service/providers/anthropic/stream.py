"""Anthropic Messages SSE events -> OpenAI chat.completion.chunk dicts (pure, incremental)."""

from __future__ import annotations

import time
import uuid

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.anthropic.errors import error_from_claude
from router_service.providers.anthropic.request import JSON_TOOL_NAME
from router_service.providers.anthropic.response import finish_reason, usage_from_claude


class ClaudeStreamTranslator:
    """`feed(event_name, data)` per SSE event; `finish()` at end of stream returns the usage chunk
    (choices == []) or raises if the stream was truncated (no message_stop)."""

    def __init__(self, *, model: str, created: int | None = None) -> None:
        self.model = model
        self.created = created or int(time.time())
        self.id = "chatcmpl-" + uuid.uuid4().hex
        self.usage: dict = {}
        self.stop_reason: str | None = None
        self.started = False
        self.stopped = False
        self.blocks: dict[int, tuple[str, int | None]] = {}  # block index -> (kind, tool index)
        self.tool_count = 0
        self.thinking: dict[int, dict] = {}  # block index -> thinking block being streamed

    def _chunk(self, delta: dict | None, finish: str | None = None) -> dict:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def _start(self) -> list[dict]:
        if self.started:
            return []
        self.started = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def feed(self, event_name: str | None, data: dict) -> list[dict]:
        etype = event_name or data.get("type")
        if etype == "error":
            raise error_from_claude(500, data)
        if self.stopped or etype == "ping":
            return []
        if etype == "message_start":
            msg = data.get("message") or {}
            if msg.get("id"):
                self.id = "chatcmpl-" + msg["id"]
            self.usage.update(msg.get("usage") or {})
            return self._start()
        out = self._start()
        if etype == "content_block_start":
            idx, block = data.get("index", 0), data.get("content_block") or {}
            btype = block.get("type")
            if btype == "tool_use" and block.get("name") == JSON_TOOL_NAME:
                self.blocks[idx] = ("json", None)
            elif btype == "tool_use":
                k = self.tool_count
                self.tool_count += 1
                self.blocks[idx] = ("tool", k)
                call = {"index": k, "id": block.get("id"), "type": "function",
                        "function": {"name": block.get("name", ""), "arguments": ""}}
                out.append(self._chunk({"tool_calls": [call]}))
            elif btype == "text":
                self.blocks[idx] = ("text", None)
                if block.get("text"):
                    out.append(self._chunk({"content": block["text"]}))
            elif btype == "thinking":
                self.blocks[idx] = ("thinking", None)
                self.thinking[idx] = {"type": "thinking", "thinking": block.get("thinking") or "",
                                      "signature": block.get("signature") or ""}
                if block.get("thinking"):
                    out.append(self._chunk({"reasoning_content": block["thinking"]}))
            elif btype == "redacted_thinking":
                self.blocks[idx] = ("other", None)
                out.append(self._chunk({"thinking_blocks": [{"type": "redacted_thinking", "data": block.get("data", "")}]}))
            else:
                self.blocks[idx] = ("other", None)
        elif etype == "content_block_delta":
            kind, k = self.blocks.get(data.get("index", 0), ("other", None))
            delta = data.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta" and delta.get("text"):
                out.append(self._chunk({"content": delta["text"]}))
            elif dtype == "thinking_delta" and delta.get("thinking"):
                if data.get("index", 0) in self.thinking:
                    self.thinking[data.get("index", 0)]["thinking"] += delta["thinking"]
                out.append(self._chunk({"reasoning_content": delta["thinking"]}))
            elif dtype == "signature_delta" and data.get("index", 0) in self.thinking:
                self.thinking[data.get("index", 0)]["signature"] += delta.get("signature") or ""
            elif dtype == "input_json_delta" and delta.get("partial_json"):
                if kind == "json":
                    out.append(self._chunk({"content": delta["partial_json"]}))
                elif kind == "tool":
                    out.append(self._chunk({"tool_calls": [{"index": k, "function": {"arguments": delta["partial_json"]}}]}))
        elif etype == "content_block_stop":
            block = self.thinking.pop(data.get("index", 0), None)
            if block is not None:  # the complete, signed block, to be sent back with tool results
                out.append(self._chunk({"thinking_blocks": [block]}))
        elif etype == "message_delta":
            stop = (data.get("delta") or {}).get("stop_reason")
            if stop:
                self.stop_reason = stop
            self.usage.update({key: v for key, v in (data.get("usage") or {}).items() if v is not None})
        elif etype == "message_stop":
            self.stopped = True
            out.append(self._chunk({}, finish_reason(self.stop_reason, saw_tool_calls=self.tool_count > 0)))
        return out

    def finish(self) -> list[dict]:
        if not self.stopped:
            raise GatewayError(ErrorKind.BAD_GATEWAY, "Claude: upstream stream ended without message_stop (truncated)")
        chunk = self._chunk(None)
        chunk["usage"] = usage_from_claude(self.usage)
        return [chunk]
