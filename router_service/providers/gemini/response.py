"""Gemini GenerateContentResponse pieces -> OpenAI shapes (shared by unary and stream).

Finish reasons: any functionCall -> "tool_calls"; STOP/other -> "stop"; MAX_TOKENS -> "length";
safety family -> "content_filter"; a blocked prompt (promptFeedback.blockReason, no candidates) ->
one choice per requested n with content null and finish_reason "content_filter".

MALFORMED_FUNCTION_CALL / UNEXPECTED_TOOL_CALL / TOO_MANY_TOOL_CALLS: the model tried to call a tool
and failed, so there is no honest OpenAI finish_reason for it. We raise
GatewayError(UPSTREAM_ERROR, code="malformed_function_call" | "unexpected_tool_call" |
"too_many_tool_calls", message carrying finishMessage). UPSTREAM_ERROR is retryable, so router
retries/fallbacks can act (the failure is usually non-deterministic); the client sees a 500 with an
explicit code instead of a silent empty "stop".
"""

from __future__ import annotations

import json
from typing import Any

from gemgate.errors import ErrorKind, GatewayError

from .tool_ids import make_call_id

CONTENT_FILTER = {
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR",
}
TOOL_FAILURES = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"}


def raise_if_tool_failure(cand: dict) -> None:
    reason = cand.get("finishReason")
    if reason in TOOL_FAILURES:
        detail = cand.get("finishMessage") or "the model produced an invalid function call"
        raise GatewayError(ErrorKind.UPSTREAM_ERROR, f"Gemini: {reason}: {detail}", code=reason.lower())


def finish_reason(reason: str | None, saw_call: bool) -> str | None:
    if reason is None:
        return None
    if saw_call:
        return "tool_calls"
    if reason == "MAX_TOKENS":
        return "length"
    if reason in CONTENT_FILTER:
        return "content_filter"
    return "stop"


def parts_of(cand: dict) -> list[dict]:
    return (cand.get("content") or {}).get("parts") or []


def text_of(parts: list[dict], *, thought: bool) -> str:
    return "".join(p.get("text", "") for p in parts if "text" in p and bool(p.get("thought")) == thought)


def tool_calls_of(parts: list[dict]) -> list[dict]:
    calls = []
    for p in parts:
        fc = p.get("functionCall")
        if not isinstance(fc, dict):
            continue
        calls.append({
            "id": make_call_id(fc.get("id"), p.get("thoughtSignature")),
            "type": "function",
            "function": {"name": fc.get("name", ""), "arguments": json.dumps(fc.get("args") or {}, ensure_ascii=False)},
        })
    return calls


def _token_logprob(token: str, logprob: float) -> dict:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def logprobs_of(cand: dict) -> dict | None:
    result = cand.get("logprobsResult")
    if not isinstance(result, dict):
        return None
    tops = result.get("topCandidates") or []
    content = []
    for i, chosen in enumerate(result.get("chosenCandidates") or []):
        entry = _token_logprob(chosen.get("token", ""), chosen.get("logProbability", 0.0))
        alts = tops[i].get("candidates", []) if i < len(tops) else []
        entry["top_logprobs"] = [_token_logprob(a.get("token", ""), a.get("logProbability", 0.0)) for a in alts]
        content.append(entry)
    return {"content": content, "refusal": None}


def is_blocked_prompt(body: dict) -> bool:
    return not body.get("candidates") and bool((body.get("promptFeedback") or {}).get("blockReason"))


def usage_of(meta: Any) -> dict:
    meta = meta if isinstance(meta, dict) else {}
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


def message_of(parts: list[dict]) -> dict:
    calls = tool_calls_of(parts)
    text = text_of(parts, thought=False)
    msg: dict[str, Any] = {"role": "assistant", "content": text if (text or not calls) else None}
    reasoning = text_of(parts, thought=True)
    if reasoning:
        msg["reasoning_content"] = reasoning
    if calls:
        msg["tool_calls"] = calls
    return msg


def choice_of(cand: dict, pos: int) -> dict:
    raise_if_tool_failure(cand)
    parts = parts_of(cand)
    msg = message_of(parts)
    return {
        "index": cand.get("index", pos),
        "message": msg,
        "logprobs": logprobs_of(cand),
        "finish_reason": finish_reason(cand.get("finishReason") or "STOP", bool(msg.get("tool_calls"))),
    }


def blocked_choices(n: int) -> list[dict]:
    return [{"index": i, "message": {"role": "assistant", "content": None}, "logprobs": None,
             "finish_reason": "content_filter"} for i in range(n)]
