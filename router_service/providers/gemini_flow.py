"""The Gemini call flow shared by AI Studio and Vertex: inline remote media (SSRF-guarded fetch),
translate, and build the answer / stream state. The providers only add URL, auth and transport."""

from __future__ import annotations

from gemgate.config import Deployment
from router_service.providers.gemini import translate
from router_service.providers.gemini.fetch_images import MediaFetcher


def choices_requested(request: dict) -> int:
    n = request.get("n")
    return n if isinstance(n, int) and n > 1 else 1


async def chat_body(fetcher: MediaFetcher, dep: Deployment, request: dict, *, vertex: bool) -> dict:
    request = await fetcher.inline_remote_media(request)
    return translate.to_gemini_request(request, vertex=vertex, deployment=dep.litellm_params.as_dict)


def chat_reply(payload: dict, request: dict, *, vertex: bool) -> dict:
    return translate.from_gemini_response(payload, model=request["model"], vertex=vertex, n=choices_requested(request))


def stream_state(request: dict) -> translate.GeminiStreamTranslator:
    return translate.GeminiStreamTranslator(model=request["model"], n=choices_requested(request))


def embed_call(dep: Deployment, request: dict, *, vertex: bool) -> tuple[str, dict]:
    """-> (operation, body) for :embedContent / :batchEmbedContents (AI Studio) or :predict (Vertex)."""
    return translate.to_gemini_embed_request(request, model=dep.litellm_params.upstream_model, vertex=vertex)


def embed_reply(payload: dict, request: dict) -> dict:
    return translate.from_gemini_embed_response(payload, model=request["model"])
