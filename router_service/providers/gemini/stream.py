"""Streaming: Gemini SSE events (GenerateContentResponse dicts) -> OpenAI chat.completion.chunk dicts."""

from __future__ import annotations

import time
import uuid

from gemgate.errors import ErrorKind, GatewayError

from .errors import error_from_gemini
from .response import (finish_reason, is_blocked_prompt, logprobs_of, parts_of, raise_if_tool_failure,
                       text_of, tool_calls_of, usage_of)


class GeminiStreamTranslator:
    """`feed(event)` -> chunks; `finish()` -> chunks whose last item is a usage chunk (choices == []).
    Raises GatewayError on a mid-stream error event and on a truncated stream. `include_usage` is
    accepted for the caller's convenience; the usage chunk is always produced (the caller decides
    whether to forward it)."""

    def __init__(self, *, model: str, created: int | None = None, n: int = 1, include_usage: bool = True) -> None:
        self.model = model
        self.created = created or int(time.time())
        self.id = "chatcmpl-" + uuid.uuid4().hex
        self.n = n
        self.include_usage = include_usage
        self.started: set[int] = set()
        self.finished: set[int] = set()
        self.call_count: dict[int, int] = {}
        self.usage_meta: dict | None = None

    def _chunk(self, choices: list[dict], usage: dict | None = None) -> dict:
        out = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model, "choices": choices}
        if usage is not None:
            out["usage"] = usage
        return out

    def _delta(self, idx: int, delta: dict, finish: str | None = None, logprobs: dict | None = None) -> dict:
        choice = {"index": idx, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return self._chunk([choice])

    def _start(self, idx: int) -> list[dict]:
        if idx in self.started:
            return []
        self.started.add(idx)
        return [self._delta(idx, {"role": "assistant", "content": ""})]

    def feed(self, event: dict) -> list[dict]:
        if "error" in event:
            err = event["error"]
            status = err.get("code") if isinstance(err, dict) and isinstance(err.get("code"), int) else 500
            raise error_from_gemini(status, event)
        if event.get("responseId"):
            self.id = "chatcmpl-" + event["responseId"]
        if event.get("usageMetadata"):
            self.usage_meta = event["usageMetadata"]
        if is_blocked_prompt(event):
            return self._blocked()
        out: list[dict] = []
        for pos, cand in enumerate(event.get("candidates") or []):
            out.extend(self._candidate(cand, cand.get("index", pos)))
        return out

    def _blocked(self) -> list[dict]:
        out: list[dict] = []
        for idx in range(self.n):
            out.extend(self._start(idx))
            self.finished.add(idx)
            out.append(self._delta(idx, {}, "content_filter"))
        return out

    def _candidate(self, cand: dict, idx: int) -> list[dict]:
        raise_if_tool_failure(cand)
        out = self._start(idx)
        parts = parts_of(cand)
        reasoning = text_of(parts, thought=True)
        if reasoning:
            out.append(self._delta(idx, {"reasoning_content": reasoning}))
        text = text_of(parts, thought=False)
        if text:
            out.append(self._delta(idx, {"content": text}, logprobs=logprobs_of(cand)))
        for call in tool_calls_of(parts):
            pos = self.call_count.get(idx, 0)
            self.call_count[idx] = pos + 1
            out.append(self._delta(idx, {"tool_calls": [{"index": pos, **call}]}))
        if cand.get("finishReason"):
            self.finished.add(idx)
            reason = finish_reason(cand["finishReason"], self.call_count.get(idx, 0) > 0)
            out.append(self._delta(idx, {}, reason))
        return out

    def finish(self) -> list[dict]:
        if not self.finished or self.started - self.finished:
            raise GatewayError(ErrorKind.BAD_GATEWAY, "Gemini: upstream stream ended without a finish reason (truncated)")
        return [self._chunk([], usage=usage_of(self.usage_meta))]
