"""The cheapest upstream call that proves a deployment's credentials, endpoint and model work
(GET /health). Nothing here is billed by Google:

| deployment | call |
|---|---|
| AI Studio (`gemini/<model>`) | `GET {api_base}/models/{model}` (models.get) |
| AI Studio wildcard (`gemini/*`) | `GET {api_base}/models?pageSize=1` (models.list) |
| Vertex Gemini / PSC endpoint | `POST ...:countTokens` with one word |
| Vertex embedding models | `POST ...:countTokens` with one `instances` entry |
| Vertex Claude | `POST .../publishers/anthropic/models/count-tokens:rawPredict` with one word |
| Vertex wildcard | an access token for the credentials (no endpoint call: no model to name) |

Each returns the name of the call made and raises GatewayError (the usual mapping of upstream
errors) when the deployment is unhealthy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from router_service.providers.ai_studio import DEFAULT_BASE, transport_error
from router_service.providers.gemini import translate
from router_service.providers.upstream_http import UpstreamTransportError
from router_service.providers.vertex import is_claude

if TYPE_CHECKING:
    from gemgate.config import Deployment

PING = "ping"


async def check(provider, dep: Deployment, timeout: float) -> str:
    if dep.litellm_params.provider == "gemini":
        return await _ai_studio(provider, dep, timeout)
    return await _vertex(provider, dep, timeout)


async def _ai_studio(provider, dep: Deployment, timeout: float) -> str:
    lp = dep.litellm_params
    base = (lp.api_base or DEFAULT_BASE).rstrip("/")
    if "*" in lp.upstream_model:
        url, name = f"{base}/models?pageSize=1", "models.list"
    else:
        url, name = f"{base}/models/{lp.upstream_model}", "models.get"
    headers = {k: v for k, v in provider._headers(dep).items() if k != "content-type"}
    try:  # the providers' upstream client offers GET through stream()
        async with provider.http.stream("GET", url, headers=headers, timeout=timeout) as resp:
            content = await resp.aread()
    except UpstreamTransportError as exc:
        raise transport_error(exc, "Gemini") from None
    if resp.status_code != 200:
        raise translate.error_from_gemini(resp.status_code, content)
    return name


async def _vertex(provider, dep: Deployment, timeout: float) -> str:
    lp = dep.litellm_params
    model = lp.upstream_model
    if "*" in model:
        await provider.tokens.token(lp.vertex_credentials)
        return "credentials"
    await provider.tokens.load(lp.vertex_credentials)
    if is_claude(model):
        body = {"model": model, "messages": [{"role": "user", "content": PING}]}
        await provider._post(dep, provider.url(dep, "rawPredict", model="count-tokens"), body, timeout)
        return "count-tokens"
    if "embedding" in model:
        body = {"instances": [{"content": PING}]}
    else:
        body = {"contents": [{"role": "user", "parts": [{"text": PING}]}]}
    await provider._post(dep, provider.url(dep, "countTokens"), body, timeout)
    return "countTokens"
