"""OpenAI legacy completions (POST /v1/completions) over chat completions, pure translation.

`prompt` (a string, or a list holding one string) becomes one user message; the answer's
`message.content` becomes `text`. Parameters with no chat equivalent that would change the answer
(`echo`, `suffix`, `best_of` > 1, `logprobs`) are 400s rather than being ignored."""

from __future__ import annotations

from typing import Any

from gemgate.errors import invalid

_PASS = {"model", "max_tokens", "temperature", "top_p", "n", "stop", "seed", "presence_penalty",
         "frequency_penalty", "user", "stream", "stream_options", "metadata", "logit_bias"}
_REFUSED = {"echo": False, "suffix": None, "logprobs": None}


def to_chat(body: Any) -> dict:
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise invalid("prompt must be a string (or a list with one string); token-id prompts and several "
                      "prompts per request are not supported", "prompt")
    for name, neutral in _REFUSED.items():
        if body.get(name) not in (None, neutral):
            raise invalid(f"{name} is not supported by gemgate's /v1/completions", name)
    if body.get("best_of") not in (None, 1):
        raise invalid("best_of is not supported by gemgate's /v1/completions", "best_of")
    out = {k: v for k, v in body.items() if k not in ("prompt", "echo", "suffix", "logprobs", "best_of")}
    out["messages"] = [{"role": "user", "content": prompt}]
    return out


def _choice(c: dict) -> dict:
    msg = c.get("message") or {}
    return {"text": msg.get("content") or "", "index": c.get("index", 0), "logprobs": None,
            "finish_reason": c.get("finish_reason")}


def from_chat(resp: dict) -> dict:
    out = {"id": "cmpl-" + str(resp.get("id", "")).removeprefix("chatcmpl-"), "object": "text_completion",
           "created": resp.get("created"), "model": resp.get("model"),
           "choices": [_choice(c) for c in resp.get("choices") or []]}
    if resp.get("usage") is not None:
        out["usage"] = resp["usage"]
    return out


def chunk_from_chat(chunk: dict) -> dict | None:
    """A chat.completion.chunk as a text_completion chunk (None: nothing to send, e.g. a role-only delta)."""
    choices = []
    for c in chunk.get("choices") or []:
        delta = c.get("delta") or {}
        text = delta.get("content") or ""
        if text or c.get("finish_reason"):
            choices.append({"text": text, "index": c.get("index", 0), "logprobs": None,
                            "finish_reason": c.get("finish_reason")})
    if not choices and chunk.get("usage") is None:
        return None
    out = {"id": "cmpl-" + str(chunk.get("id", "")).removeprefix("chatcmpl-"), "object": "text_completion",
           "created": chunk.get("created"), "model": chunk.get("model"), "choices": choices}
    if chunk.get("usage") is not None:
        out["usage"] = chunk["usage"]
    return out
