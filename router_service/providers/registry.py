"""Provider adapters by config prefix (`gemini/`, `vertex_ai/`), sharing one pooled upstream client
(our own HTTP/1.1 client on httptools, providers/upstream_http.py); remote media is fetched with
httpx behind the SSRF guard (its client made on the first fetch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from router_service.providers.ai_studio import AIStudioProvider
from router_service.providers.base import Provider
from router_service.providers.gemini.fetch_images import MediaFetcher
from router_service.providers.google_auth import GoogleTokens
from router_service.providers.upstream_http import UpstreamClient
from router_service.providers.vertex import VertexProvider

if TYPE_CHECKING:
    from gemgate.config import GeneralSettings


def build_providers(http: UpstreamClient, tokens: GoogleTokens, fetcher: MediaFetcher) -> dict[str, Provider]:
    return {"gemini": AIStudioProvider(http, fetcher), "vertex_ai": VertexProvider(http, tokens, fetcher)}


def media_fetcher(settings: GeneralSettings, allowed_hosts=()) -> MediaFetcher:
    """Remote image/file URLs are fetched behind the SSRF guard (public addresses only, unless a
    network is listed in general_settings.media_allowed_networks)."""
    return MediaFetcher(allowed_networks=settings.media_allowed_networks,
                        max_bytes=settings.media_max_bytes, timeout=settings.media_fetch_timeout,
                        allowed_hosts=allowed_hosts or ())
