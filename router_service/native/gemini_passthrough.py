"""Native Gemini requests -> AI Studio or Vertex Gemini deployments, passed through (pure, no IO).

The client's GenerateContentRequest keeps every field; only the differences between the two
services' body shapes are handled:
- Vertex requires `role` on every content: a content without one is the user's (AI Studio's rule).
- Vertex's FunctionCall / FunctionResponse carry no `id` (it matches calls by name and order):
  ids are removed for Vertex.
- `labels` exist only on Vertex: sent to Vertex, refused for AI Studio (400 naming it) unless
  drop_params, then dropped.
- The deployment's `safety_settings` and `max_tokens` apply when the request sets none.
Usage is read from `usageMetadata` (the same numbers the chat path charges).
"""

from __future__ import annotations

import copy
from typing import Any

from gemgate.errors import ErrorKind, GatewayError, invalid
from router_service.providers.gemini.response import usage_of

# Top-level GenerateContentRequest fields (camelCase; the JSON parser also takes snake_case).
KNOWN = {"contents", "systemInstruction", "tools", "toolConfig", "safetySettings", "generationConfig",
         "cachedContent", "labels", "model"}
SNAKE = {"system_instruction": "systemInstruction", "tool_config": "toolConfig", "safety_settings": "safetySettings",
         "generation_config": "generationConfig", "cached_content": "cachedContent"}


def normalize(body: dict) -> dict:
    """snake_case top-level names (the proto JSON parser accepts both) -> camelCase, one spelling."""
    out: dict[str, Any] = {}
    for key, val in body.items():
        out[SNAKE.get(key, key)] = val
    return out


def _strip_ids(contents: list) -> None:
    for content in contents:
        for part in (content or {}).get("parts") or []:
            for key in ("functionCall", "functionResponse", "function_call", "function_response"):
                if isinstance(part.get(key), dict):
                    part[key].pop("id", None)


def upstream_body(body: dict, *, vertex: bool, deployment: dict, drop: bool) -> dict:
    out = copy.deepcopy(normalize(body))
    out.pop("model", None)
    unknown = sorted(k for k in out if k not in KNOWN)
    if unknown and not drop:
        raise invalid(f"{unknown[0]}: unknown field of GenerateContentRequest", unknown[0])
    for key in unknown:
        out.pop(key)
    if not vertex and out.get("labels"):
        if not drop:
            raise invalid("labels: only Vertex AI deployments accept labels (set drop_params to drop them)", "labels")
        out.pop("labels")
    out.pop("labels", None) if not vertex else None
    contents = out.get("contents")
    if vertex and isinstance(contents, list):
        for content in contents:
            if isinstance(content, dict) and not content.get("role"):
                content["role"] = "user"
        _strip_ids(contents)
    if not out.get("safetySettings") and deployment.get("safety_settings"):
        out["safetySettings"] = list(deployment["safety_settings"])
    gen = out.get("generationConfig")
    if deployment.get("max_tokens") and not (gen or {}).get("maxOutputTokens"):
        out["generationConfig"] = {**(gen or {}), "maxOutputTokens": deployment["max_tokens"]}
    return out


def count_body(body: dict, *, vertex: bool, upstream_model: str) -> dict:
    """countTokens body. AI Studio: {"contents"} or {"generateContentRequest": {model, ...}};
    Vertex: the prompt fields at the top level."""
    gen = {k: v for k, v in body.items() if k in ("contents", "systemInstruction", "tools", "generationConfig",
                                                  "toolConfig", "safetySettings", "cachedContent")}
    if vertex:
        return {k: v for k, v in gen.items() if k in ("contents", "systemInstruction", "tools", "generationConfig")}
    if set(gen) <= {"contents"}:
        return {"contents": gen.get("contents") or []}
    return {"generateContentRequest": {"model": f"models/{upstream_model}", **gen}}


def openai_usage(payload: dict) -> dict:
    return usage_of(payload.get("usageMetadata") or {})


class GeminiEventTracker:
    """Watches passed-through stream events: the last usageMetadata, and whether the stream ended
    properly (a finishReason, or a blocked prompt)."""

    def __init__(self) -> None:
        self.usage_meta: dict = {}
        self.finished = False

    def see(self, event: dict) -> dict:
        if isinstance(event.get("error"), dict):
            from router_service.providers.gemini.errors import error_from_gemini

            raise error_from_gemini(int(event["error"].get("code") or 500), event)
        if event.get("usageMetadata"):
            self.usage_meta = event["usageMetadata"]
        if (event.get("promptFeedback") or {}).get("blockReason"):
            self.finished = True
        for cand in event.get("candidates") or ():
            if (cand or {}).get("finishReason"):
                self.finished = True
        return event

    def openai_usage(self) -> dict:
        return usage_of(self.usage_meta)

    def finish(self) -> None:
        if not self.finished:
            raise GatewayError(ErrorKind.BAD_GATEWAY, "Gemini: upstream stream ended without a finishReason (truncated)")
