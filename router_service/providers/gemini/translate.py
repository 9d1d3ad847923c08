"""OpenAI Chat Completions <-> Gemini generateContent, pure (dict in, dict out, no IO).

Shared by AI Studio and Vertex Gemini (`vertex=True` switches the few wire differences).
See ../shared/gemini-wire.md for the mapping tables.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from gemgate.errors import ErrorKind, GatewayError, invalid

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MODEL_ARMOR": "content_filter",
}


def _text_of(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for i, part in enumerate(content):
        if part.get("type") != "text":
            raise invalid(f"content part type {part.get('type')!r} is not supported", f"{where}[{i}]")
        texts.append(part.get("text", ""))
    return "".join(texts)


def to_gemini_request(req: dict, *, vertex: bool = False, deployment: dict | None = None) -> dict:
    """OpenAI chat request dict -> Gemini GenerateContentRequest dict."""
    system_texts: list[str] = []
    contents: list[dict] = []
    for i, msg in enumerate(req["messages"]):
        role = msg.get("role")
        where = f"messages[{i}].content"
        if role in ("system", "developer"):
            system_texts.append(_text_of(msg.get("content"), where))
            continue
        if role == "user":
            g_role = "user"
        elif role == "assistant":
            g_role = "model"
        else:
            raise invalid(f"message role {role!r} is not supported", f"messages[{i}].role")
        text = _text_of(msg.get("content"), where)
        if not text:
            raise invalid(f"messages[{i}] has empty content", where)
        if contents and contents[-1]["role"] == g_role:
            contents[-1]["parts"].append({"text": text})
        else:
            contents.append({"role": g_role, "parts": [{"text": text}]})
    if not contents:
        contents.append({"role": "user", "parts": [{"text": " "}]})
    body: dict[str, Any] = {"contents": contents}
    if system_texts:
        body["systemInstruction"] = {"parts": [{"text": t} for t in system_texts if t]}
    gen: dict[str, Any] = {}
    if req.get("temperature") is not None:
        gen["temperature"] = req["temperature"]
    if req.get("top_p") is not None:
        gen["topP"] = req["top_p"]
    max_tokens = req.get("max_completion_tokens") or req.get("max_tokens")
    if max_tokens is not None:
        gen["maxOutputTokens"] = max_tokens
    if req.get("stop"):
        stop = req["stop"]
        if len(stop) > 5:
            raise invalid("stop accepts at most 5 sequences for Gemini models", "stop")
        gen["stopSequences"] = stop
    if gen:
        body["generationConfig"] = gen
    return body


def _usage(meta: dict | None) -> dict:
    meta = meta or {}
    prompt = meta.get("promptTokenCount", 0) + meta.get("toolUsePromptTokenCount", 0)
    thoughts = meta.get("thoughtsTokenCount", 0)
    completion = meta.get("candidatesTokenCount", 0) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": meta.get("totalTokenCount", prompt + completion),
        "prompt_tokens_details": {"cached_tokens": meta.get("cachedContentTokenCount", 0)},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def _finish(reason: str | None) -> str | None:
    if reason is None:
        return None
    return FINISH_REASONS.get(reason, "stop")


def from_gemini_response(body: dict, *, model: str, created: int | None = None) -> dict:
    """Gemini GenerateContentResponse dict -> OpenAI chat.completion dict."""
    choices = []
    for pos, cand in enumerate(body.get("candidates") or []):
        parts = (cand.get("content") or {}).get("parts") or []
        text = "".join(p.get("text", "") for p in parts if "text" in p and not p.get("thought"))
        choices.append(
            {
                "index": cand.get("index", pos),
                "message": {"role": "assistant", "content": text},
                "finish_reason": _finish(cand.get("finishReason")) or "stop",
            }
        )
    return {
        "id": "chatcmpl-" + (body.get("responseId") or uuid.uuid4().hex),
        "object": "chat.completion",
        "created": created or int(time.time()),
        "model": model,
        "choices": choices,
        "usage": _usage(body.get("usageMetadata")),
    }


class GeminiStreamTranslator:
    """Feeds parsed SSE events (GenerateContentResponse dicts) and yields OpenAI chunk dicts.
    The last thing `finish()` returns is a usage chunk (choices == []); the caller decides whether
    the client asked for it."""

    def __init__(self, *, model: str, created: int | None = None) -> None:
        self.model = model
        self.created = created or int(time.time())
        self.id = "chatcmpl-" + uuid.uuid4().hex
        self.started: set[int] = set()
        self.finished: set[int] = set()
        self.usage_meta: dict | None = None

    def _chunk(self, choices: list[dict], usage: dict | None = None) -> dict:
        out = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model, "choices": choices}
        if usage is not None:
            out["usage"] = usage
        return out

    def feed(self, event: dict) -> list[dict]:
        if "error" in event:
            raise error_from_gemini(500, event)
        if event.get("usageMetadata"):
            self.usage_meta = event["usageMetadata"]
        out = []
        for pos, cand in enumerate(event.get("candidates") or []):
            idx = cand.get("index", pos)
            if idx not in self.started:
                self.started.add(idx)
                out.append(self._chunk([{"index": idx, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]))
            parts = (cand.get("content") or {}).get("parts") or []
            text = "".join(p.get("text", "") for p in parts if "text" in p and not p.get("thought"))
            if text:
                out.append(self._chunk([{"index": idx, "delta": {"content": text}, "finish_reason": None}]))
            if cand.get("finishReason"):
                self.finished.add(idx)
                out.append(self._chunk([{"index": idx, "delta": {}, "finish_reason": _finish(cand["finishReason"])}]))
        return out

    def finish(self) -> list[dict]:
        if not self.finished or self.started - self.finished:
            raise GatewayError(ErrorKind.BAD_GATEWAY, "upstream stream ended without a finish reason (truncated)")
        return [self._chunk([], usage=_usage(self.usage_meta))]


_STATUS_KIND = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    403: ErrorKind.PERMISSION,
    404: ErrorKind.MODEL_NOT_FOUND,
    408: ErrorKind.REQUEST_TIMEOUT,
    429: ErrorKind.RATE_LIMIT,
    500: ErrorKind.UPSTREAM_ERROR,
    502: ErrorKind.BAD_GATEWAY,
    503: ErrorKind.UNAVAILABLE,
    504: ErrorKind.UPSTREAM_TIMEOUT,
}


def error_from_gemini(status: int, body: Any) -> GatewayError:
    """Google error envelope (maybe array-wrapped) + HTTP status -> GatewayError."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            body = {}
    if isinstance(body, list) and body:
        body = body[0]
    err = body.get("error", {}) if isinstance(body, dict) else {}
    code = err.get("code", status) if isinstance(err.get("code"), int) else status
    message = err.get("message") or f"upstream returned HTTP {status}"
    kind = _STATUS_KIND.get(code, ErrorKind.UPSTREAM_ERROR if code >= 500 else ErrorKind.INVALID_REQUEST)
    reasons = {d.get("reason") for d in err.get("details") or [] if isinstance(d, dict)}
    if "API_KEY_INVALID" in reasons:
        kind = ErrorKind.AUTHENTICATION
    return GatewayError(kind, f"Gemini: {message}", upstream_status=code)
