"""The router's chat completion (unary) -> a Responses API response object. Pure."""

from __future__ import annotations

from typing import Any

from gemgate.responses.ids import item_id
from gemgate.responses.reasoning import encode_blocks

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def usage_from_chat(u: dict | None) -> dict | None:
    if not u:
        return None
    prompt, completion = u.get("prompt_tokens") or 0, u.get("completion_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": (u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0},
        "total_tokens": u.get("total_tokens") or prompt + completion,
    }


def envelope(req: dict, response_id: str, created_at: int, status: str) -> dict:
    """The response object around the output: the request's settings echoed as OpenAI does."""
    reasoning = req.get("reasoning") or {}
    text = req.get("text") or {}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": req.get("instructions"),
        "max_output_tokens": req.get("max_output_tokens"),
        "model": req["model"],
        "output": [],
        "parallel_tool_calls": req.get("parallel_tool_calls", True),
        "previous_response_id": req.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": req.get("store", True),
        "temperature": req.get("temperature"),
        "text": {"format": text.get("format") or {"type": "text"}, **({"verbosity": text["verbosity"]} if text.get("verbosity") else {})},
        "tool_choice": req.get("tool_choice") or "auto",
        "tools": [{k: v for k, v in t.items() if v is not None} for t in req.get("tools") or ()],
        "top_p": req.get("top_p"),
        "truncation": "disabled",
        "usage": None,
        "user": req.get("user"),
        "metadata": req.get("metadata") or {},
    }


def finish(resp: dict, finish_reason: str | None) -> None:
    reason = _INCOMPLETE.get(finish_reason or "")
    if reason:
        resp["status"] = "incomplete"
        resp["incomplete_details"] = {"reason": reason}
    else:
        resp["status"] = "completed"


def reasoning_item(text: str, blocks: list[dict] | None, summary: bool, rid: str | None = None) -> dict:
    item: dict[str, Any] = {"id": rid or item_id("reasoning"), "type": "reasoning",
                            "summary": [{"type": "summary_text", "text": text}] if summary and text else []}
    if blocks:
        item["encrypted_content"] = encode_blocks(blocks)
    return item


def message_item(text: str, status: str, mid: str | None = None) -> dict:
    return {"id": mid or item_id("message"), "type": "message", "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def call_item(call: dict, status: str = "completed", fid: str | None = None) -> dict:
    fn = call.get("function") or {}
    return {"id": fid or item_id("function_call"), "type": "function_call", "status": status,
            "call_id": call.get("id") or "", "name": fn.get("name") or "", "arguments": fn.get("arguments") or ""}


def response_from_chat(completion: dict, req: dict, *, response_id: str, created_at: int, summary: bool) -> dict:
    resp = envelope(req, response_id, created_at, "completed")
    choice = (completion.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    finish(resp, choice.get("finish_reason"))
    item_status = "incomplete" if resp["status"] == "incomplete" else "completed"
    output = []
    if msg.get("reasoning_content") or msg.get("thinking_blocks"):
        output.append(reasoning_item(msg.get("reasoning_content") or "", msg.get("thinking_blocks"), summary))
    if msg.get("content"):
        output.append(message_item(msg["content"], item_status))
    for call in msg.get("tool_calls") or ():
        output.append(call_item(call))
    resp["output"] = output
    resp["usage"] = usage_from_chat(completion.get("usage"))
    return resp
