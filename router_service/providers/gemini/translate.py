"""OpenAI Chat Completions <-> Gemini generateContent, pure (dict in, dict out, no IO).

Shared by AI Studio and Vertex Gemini (`vertex=True` switches the few wire differences: no
functionCall/functionResponse ids, `labels` from `user`, extra safety categories).
See ../shared/gemini-wire.md for the mapping tables. Each step lives in its own module:
messages (contents), tools, params (generationConfig + unsupported-param check), safety,
response/stream (answers), errors, embeddings, images (remote media helpers).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from gemgate.errors import invalid

from .embeddings import from_gemini_embed_response, to_gemini_embed_request
from .errors import error_from_gemini
from .images import image_urls_to_fetch, with_fetched_images
from .messages import to_contents
from .params import check_params, generation_config, vertex_labels
from .response import blocked_choices, choice_of, is_blocked_prompt, usage_of
from .safety import to_safety_settings
from .stream import GeminiStreamTranslator
from .tools import to_tool_config, to_tools

__all__ = [
    "GeminiStreamTranslator", "error_from_gemini", "from_gemini_embed_response", "from_gemini_response",
    "image_urls_to_fetch", "to_gemini_embed_request", "to_gemini_request", "with_fetched_images",
]


def _model_name(req: dict, deployment: dict) -> str:
    return str(deployment.get("model") or req.get("model") or "")


def to_gemini_request(req: dict, *, vertex: bool = False, deployment: dict | None = None,
                      output_limit: int | None = None) -> dict:
    """OpenAI chat request dict -> Gemini GenerateContentRequest dict (raises 400 GatewayError).
    `output_limit`: the model's known output token limit (max_tokens above it is clamped).
    Linear in the size of the request."""
    deployment = deployment or {}
    messages = req.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages must be a non-empty array", "messages")
    dropped = check_params(req, deployment, _model_name(req, deployment))
    contents, system = to_contents(messages, vertex=vertex)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = system
    tools = to_tools(req.get("tools"))
    if tools:
        body["tools"] = tools
    tool_config = to_tool_config(req.get("tool_choice"), req.get("tools"))
    if tool_config and tools:
        body["toolConfig"] = tool_config
    safety = to_safety_settings(req.get("safety_settings"), deployment.get("safety_settings"), vertex=vertex)
    if safety:
        body["safetySettings"] = safety
    gen = generation_config(req, deployment, _model_name(req, deployment), dropped, output_limit)
    if gen:
        body["generationConfig"] = gen
    labels = vertex_labels(req.get("user")) if vertex else None
    if labels:
        body["labels"] = labels
    return body


def from_gemini_response(body: dict, *, model: str, created: int | None = None, vertex: bool = False, n: int = 1) -> dict:
    """Gemini GenerateContentResponse dict -> OpenAI chat.completion dict."""
    if is_blocked_prompt(body):
        choices = blocked_choices(n)
    else:
        choices = [choice_of(c, pos) for pos, c in enumerate(body.get("candidates") or [])]
    return {
        "id": "chatcmpl-" + (body.get("responseId") or uuid.uuid4().hex),
        "object": "chat.completion",
        "created": created or int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage_of(body.get("usageMetadata")),
    }
