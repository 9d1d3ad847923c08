"""Provider adapters by config prefix (`gemini/`, `vertex_ai/`), sharing one pooled HTTP client."""

from __future__ import annotations

import httpx

from router_service.providers.ai_studio import AIStudioProvider
from router_service.providers.base import Provider
from router_service.providers.google_auth import GoogleTokens
from router_service.providers.vertex import VertexProvider


def http_client() -> httpx.AsyncClient:
    """The one pooled upstream client of a router process."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(600.0, connect=10.0),
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=60.0),
        follow_redirects=False,
        trust_env=False,
    )


def build_providers(http: httpx.AsyncClient, tokens: GoogleTokens) -> dict[str, Provider]:
    return {"gemini": AIStudioProvider(http), "vertex_ai": VertexProvider(http, tokens)}
