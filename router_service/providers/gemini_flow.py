"""The Gemini call flow shared by AI Studio and Vertex: inline remote media (SSRF-guarded fetch),
translate, and build the answer / stream state. The providers only add URL, auth and transport."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gemgate import offload
from router_service import cost
from router_service.providers.gemini import translate
from router_service.providers.gemini.fetch_images import MediaFetcher

if TYPE_CHECKING:
    from gemgate.config import Deployment


def choices_requested(request: dict) -> int:
    n = request.get("n")
    return n if isinstance(n, int) and n > 1 else 1


async def chat_body(fetcher: MediaFetcher, dep: Deployment, request: dict, *, vertex: bool) -> dict:
    request = await fetcher.inline_remote_media(request)
    size_hint = 128 * (len(request.get("messages") or ()) + len(request.get("tools") or ()))
    return await offload.cpu(size_hint, translate.to_gemini_request, request, vertex=vertex,
                             deployment=dep.litellm_params.as_dict, output_limit=output_limit(dep))


def output_limit(dep: Deployment) -> int | None:
    """The model's output token limit when known (model_info.max_output_tokens, else the price
    table entry of model_info.base_model / the upstream model); None for unknown models."""
    if dep.model_info.max_output_tokens:
        return dep.model_info.max_output_tokens
    known = cost.lookup(dep.model_info.base_model or dep.litellm_params.model)
    return known.max_output_tokens if known else None


def chat_reply(payload: dict, request: dict, *, vertex: bool) -> dict:
    return translate.from_gemini_response(payload, model=request["model"], vertex=vertex, n=choices_requested(request))


def stream_state(request: dict) -> translate.GeminiStreamTranslator:
    return translate.GeminiStreamTranslator(model=request["model"], n=choices_requested(request))


def embed_call(dep: Deployment, request: dict, *, vertex: bool) -> tuple[str, dict]:
    """-> (operation, body) for :embedContent / :batchEmbedContents (AI Studio) or :predict (Vertex)."""
    return translate.to_gemini_embed_request(request, model=dep.litellm_params.upstream_model, vertex=vertex)


def embed_reply(payload: dict, request: dict) -> dict:
    return translate.from_gemini_embed_response(payload, model=request["model"])
