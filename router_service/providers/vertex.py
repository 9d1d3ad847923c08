"""Vertex AI: `model: vertex_ai/<name>`. Gemini models via the shared Gemini translator, Claude
models (`claude*`) via the Anthropic translator (`:rawPredict` / `:streamRawPredict`), embeddings via
`:predict`. Auth: OAuth bearer tokens from GoogleTokens; an upstream 401 invalidates the token,
refreshes once and retries once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from gemgate.config import Deployment
from gemgate.errors import ErrorKind, GatewayError
from router_service.providers import gemini_flow as flow
from router_service.providers import upstream_extras as extras
from router_service.providers.ai_studio import transport_error
from router_service.providers.anthropic import translate as claude
from router_service.providers.base import Provider
from router_service.providers.gemini import translate as gemini
from router_service.providers.gemini.fetch_images import MediaFetcher
from router_service.providers.google_auth import GoogleTokens
from router_service.providers.sse import iter_sse

DEFAULT_LOCATION = "us-central1"


def is_claude(model: str) -> bool:
    return model.startswith("claude")


def vertex_base(location: str, api_base: str | None) -> str:
    if api_base:
        return api_base.rstrip("/")
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def vertex_url(*, project: str, location: str, publisher: str, model: str, op: str, api_base: str | None = None,
               psc: bool = False) -> str:
    if psc and api_base:  # Private Service Connect: {api_base}/v1/projects/P/locations/L/endpoints/ID
        return f"{api_base.rstrip('/')}/v1/projects/{project}/locations/{location}/endpoints/{model}:{op}"
    return (
        f"{vertex_base(location, api_base)}/v1/projects/{project}/locations/{location}"
        f"/publishers/{publisher}/models/{model}:{op}"
    )


class VertexProvider(Provider):
    def __init__(self, http: httpx.AsyncClient, tokens: GoogleTokens, fetcher: MediaFetcher | None = None) -> None:
        self.http = http
        self.tokens = tokens
        self.fetcher = fetcher or MediaFetcher(http)

    # ---- addressing ----
    def url(self, dep: Deployment, op: str) -> str:
        lp = dep.litellm_params
        model = lp.upstream_model
        location = lp.vertex_location or DEFAULT_LOCATION
        project = lp.vertex_project or self.tokens.project_id(lp.vertex_credentials)
        if not project:
            raise GatewayError(
                ErrorKind.INTERNAL,
                f"deployment {dep.model_name!r}: vertex_project is not set and the credentials name no project",
            )
        publisher = "anthropic" if is_claude(model) else "google"
        return vertex_url(project=project, location=location, publisher=publisher, model=model, op=op, api_base=lp.api_base,
                          psc=lp.use_psc_endpoint_format)

    def _where(self, dep: Deployment) -> str:
        return "Claude (Vertex)" if is_claude(dep.litellm_params.upstream_model) else "Vertex"

    async def _headers(self, dep: Deployment) -> tuple[dict[str, str], str]:
        token = await self.tokens.token(dep.litellm_params.vertex_credentials)
        return extras.headers(dep, {"content-type": "application/json", "authorization": f"Bearer {token}"}), token

    def _error(self, dep: Deployment, status: int, content: bytes) -> GatewayError:
        if is_claude(dep.litellm_params.upstream_model):
            return claude.error_from_claude(status, content)
        return gemini.error_from_gemini(status, content)

    # ---- IO with one 401 retry ----
    async def _post(self, dep: Deployment, url: str, body: dict, timeout: float) -> dict:
        for attempt in (0, 1):
            headers, token = await self._headers(dep)
            try:
                resp = await self.http.post(url, json=body, headers=headers, timeout=timeout)
            except httpx.HTTPError as exc:
                raise transport_error(exc, self._where(dep)) from None
            if resp.status_code == 401 and attempt == 0:
                self.tokens.invalidate(dep.litellm_params.vertex_credentials, token)
                continue
            if resp.status_code != 200:
                raise self._error(dep, resp.status_code, resp.content)
            try:
                return resp.json()
            except ValueError:
                raise GatewayError(ErrorKind.BAD_GATEWAY, f"{self._where(dep)}: upstream returned invalid JSON") from None
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def _open_stream(self, dep: Deployment, url: str, body: dict, timeout: float):
        for attempt in (0, 1):
            headers, token = await self._headers(dep)
            async with self.http.stream("POST", url, json=body, headers=headers, timeout=timeout) as resp:
                if resp.status_code == 401 and attempt == 0:
                    await resp.aread()
                    self.tokens.invalidate(dep.litellm_params.vertex_credentials, token)
                    continue
                if resp.status_code != 200:
                    raise self._error(dep, resp.status_code, await resp.aread())
                yield resp
                return

    async def _events(self, dep: Deployment, url: str, body: dict, timeout: float, feed: Callable[[str | None, dict], list[dict]]) -> AsyncIterator[dict]:
        try:
            async with self._open_stream(dep, url, body, timeout) as resp:
                async for event in iter_sse(resp.aiter_lines()):
                    try:
                        payload = json.loads(event.data)
                    except ValueError:
                        raise GatewayError(ErrorKind.BAD_GATEWAY, f"{self._where(dep)}: invalid JSON in stream") from None
                    for chunk in feed(event.event, payload):
                        yield chunk
        except httpx.HTTPError as exc:
            raise transport_error(exc, self._where(dep)) from None

    # ---- Provider ----
    async def chat(self, deployment: Deployment, request: dict, *, timeout: float) -> dict:
        lp = deployment.litellm_params
        await self.tokens.load(lp.vertex_credentials)  # off-loop; url() may need the SA project
        if is_claude(lp.upstream_model):
            request = await self.fetcher.inline_remote_media(request)
            body = extras.body(deployment, claude.to_claude_request(request, deployment=lp.as_dict))
            payload = await self._post(deployment, self.url(deployment, "rawPredict"), body, timeout)
            return claude.from_claude_response(payload, model=request["model"])
        body = extras.body(deployment, await flow.chat_body(self.fetcher, deployment, request, vertex=True))
        payload = await self._post(deployment, self.url(deployment, "generateContent"), body, timeout)
        return flow.chat_reply(payload, request, vertex=True)

    async def stream(self, deployment: Deployment, request: dict, *, timeout: float) -> AsyncIterator[dict]:
        lp = deployment.litellm_params
        await self.tokens.load(lp.vertex_credentials)
        finish: Callable[[], list[dict]]
        if is_claude(lp.upstream_model):
            request = await self.fetcher.inline_remote_media(request)
            body = extras.body(deployment, claude.to_claude_request(request, deployment=lp.as_dict))
            body["stream"] = True
            url = self.url(deployment, "streamRawPredict")
            state = claude.ClaudeStreamTranslator(model=request["model"])
            feed = state.feed
            finish = state.finish
        else:
            body = extras.body(deployment, await flow.chat_body(self.fetcher, deployment, request, vertex=True))
            url = self.url(deployment, "streamGenerateContent") + "?alt=sse"
            gstate = flow.stream_state(request)
            feed = lambda _name, payload: gstate.feed(payload)  # noqa: E731
            finish = gstate.finish
        async for chunk in self._events(deployment, url, body, timeout, feed):
            yield chunk
        for chunk in finish():
            yield chunk

    async def embed(self, deployment: Deployment, request: dict, *, timeout: float) -> dict:
        lp = deployment.litellm_params
        if is_claude(lp.upstream_model):
            return await super().embed(deployment, request, timeout=timeout)
        await self.tokens.load(lp.vertex_credentials)
        op, body = flow.embed_call(deployment, request, vertex=True)
        payload = await self._post(deployment, self.url(deployment, op), body, timeout)
        return flow.embed_reply(payload, request)
