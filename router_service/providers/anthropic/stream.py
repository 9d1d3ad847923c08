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
                if block.get("thinking"):
                    out.append(self._chunk({"reasoning_content": block["thinking"]}))
            else:
                self.blocks[idx] = ("other", None)
        elif etype == "content_block_delta":
            kind, k = self.blocks.get(data.get("index", 0), ("other", None))
            delta = data.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta" and delta.get("text"):
                out.append(self._chunk({"content": delta["text"]}))
            elif dtype == "thinking_delta" and delta.get("thinking"):
                out.append(self._chunk({"reasoning_content": delta["thinking"]}))
            elif dtype == "input_json_delta" and delta.get("partial_json"):
                if kind == "json":
                    out.append(self._chunk({"content": delta["partial_json"]}))
                elif kind == "tool":
                    out.append(self._chunk({"tool_calls": [{"index": k, "function": {"arguments": delta["partial_json"]}}]}))
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
