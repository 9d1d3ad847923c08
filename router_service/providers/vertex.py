"""Vertex AI: `model: vertex_ai/<name>`. Gemini models via the shared Gemini translator, Claude
models (`claude*`) via the Anthropic translator (`:rawPredict` / `:streamRawPredict`), embeddings via
`:predict`. Auth: OAuth bearer tokens from GoogleTokens; an upstream 401 invalidates the token,
refreshes once and retries once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


from gemgate.errors import ErrorKind, GatewayError
from router_service.providers import gemini_flow as flow
from router_service.providers import gemini_native as native_api
from router_service.providers import upstream_extras as extras
from router_service.providers.ai_studio import transport_error
from router_service.native import claude_passthrough as claude_pass
from router_service.providers.anthropic import translate as claude
from router_service.providers.base import Provider
from router_service.providers.gemini import translate as gemini
from router_service.providers.gemini.fetch_images import MediaFetcher
from router_service.providers.google_auth import GoogleTokens
from router_service.providers.sse import iter_sse
from router_service.providers.upstream_http import UpstreamClient, UpstreamTransportError

if TYPE_CHECKING:
    from gemgate.config import Deployment

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
    def __init__(self, http: UpstreamClient, tokens: GoogleTokens, fetcher: MediaFetcher | None = None) -> None:
        self.http = http
        self.tokens = tokens
        self.fetcher = fetcher or MediaFetcher()

    # ---- addressing ----
    def url(self, dep: Deployment, op: str, model: str | None = None) -> str:
        lp = dep.litellm_params
        model = model or lp.upstream_model
        location = lp.vertex_location or DEFAULT_LOCATION
        project = lp.vertex_project or self.tokens.project_id(lp.vertex_credentials)
        if not project:
            raise GatewayError(
                ErrorKind.INTERNAL,
                f"deployment {dep.model_name!r}: vertex_project is not set and the credentials name no project",
            )
        publisher = "anthropic" if is_claude(lp.upstream_model) else "google"
        return vertex_url(project=project, location=location, publisher=publisher, model=model, op=op, api_base=lp.api_base,
                          psc=lp.use_psc_endpoint_format)

    def _where(self, dep: Deployment) -> str:
        return "Claude (Vertex)" if is_claude(dep.litellm_params.upstream_model) else "Vertex"

    async def _headers(self, dep: Deployment, extra: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
        token = await self.tokens.token(dep.litellm_params.vertex_credentials)
        return extras.headers(dep, {"content-type": "application/json", **(extra or {}), "authorization": f"Bearer {token}"}), token

    def _error(self, dep: Deployment, status: int, content: bytes) -> GatewayError:
        if is_claude(dep.litellm_params.upstream_model):
            return claude.error_from_claude(status, content)
        return gemini.error_from_gemini(status, content)

    # ---- IO with one 401 retry ----
    async def _post(self, dep: Deployment, url: str, body: dict, timeout: float, extra: dict | None = None) -> dict:
        for attempt in (0, 1):
            headers, token = await self._headers(dep, extra)
            try:
                resp = await self.http.post(url, json=body, headers=headers, timeout=timeout)
            except UpstreamTransportError as exc:
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
    async def _open_stream(self, dep: Deployment, url: str, body: dict, timeout: float, extra: dict | None = None):
        for attempt in (0, 1):
            headers, token = await self._headers(dep, extra)
            async with self.http.stream("POST", url, json=body, headers=headers, timeout=timeout) as resp:
                if resp.status_code == 401 and attempt == 0:
                    await resp.aread()
                    self.tokens.invalidate(dep.litellm_params.vertex_credentials, token)
                    continue
                if resp.status_code != 200:
                    raise self._error(dep, resp.status_code, await resp.aread())
                yield resp
                return

    async def _events(self, dep: Deployment, url: str, body: dict, timeout: float, feed: Callable[[str | None, dict], list[dict]],
                      extra: dict | None = None) -> AsyncIterator[dict]:
        try:
            async with self._open_stream(dep, url, body, timeout, extra) as resp:
                async for event in iter_sse(resp.aiter_lines()):
                    try:
                        payload = json.loads(event.data)
                    except ValueError:
                        raise GatewayError(ErrorKind.BAD_GATEWAY, f"{self._where(dep)}: invalid JSON in stream") from None
                    for chunk in feed(event.event, payload):
                        yield chunk
        except UpstreamTransportError as exc:
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

    # ---- native APIs ----
    async def _post_op(self, dep: Deployment, op: str, body: dict, timeout: float) -> dict:
        return await self._post(dep, self.url(dep, op), body, timeout)

    async def _sse_payloads(self, dep: Deployment, op: str, body: dict, timeout: float) -> AsyncIterator[dict]:
        async for payload in self._events(dep, self.url(dep, op) + "?alt=sse", body, timeout, lambda _n, p: [p]):
            yield payload

    async def native(self, deployment: Deployment, call, group: str, *, timeout: float) -> dict:
        lp = deployment.litellm_params
        await self.tokens.load(lp.vertex_credentials)
        if not is_claude(lp.upstream_model):
            result = await native_api.unary(self._post_op, self.fetcher, deployment, call, group, vertex=True, timeout=timeout)
            if result is not None:
                return result
        if is_claude(lp.upstream_model) and call.family != "anthropic" and call.op == "count_tokens":
            request = await self.fetcher.inline_remote_media(call.to_openai(deployment, group))
            body = claude_pass.count_body(claude.to_claude_request(request, deployment=lp.as_dict),
                                          upstream_model=lp.upstream_model)
            payload = await self._post(deployment, self.url(deployment, "rawPredict", model="count-tokens"), body, timeout)
            return {"body": {"totalTokens": int(payload.get("input_tokens") or 0)}, "usage": None}
        if not (call.family == "anthropic" and is_claude(lp.upstream_model)):
            return await super().native(deployment, call, group, timeout=timeout)
        extra = claude_pass.beta_headers(call.betas)
        if call.op == "count_tokens":
            body = claude_pass.count_body(call.body, upstream_model=lp.upstream_model)
            payload = await self._post(deployment, self.url(deployment, "rawPredict", model="count-tokens"), body, timeout, extra)
            return {"body": {"input_tokens": int(payload.get("input_tokens") or 0)}, "usage": None}
        body = extras.body(deployment, claude_pass.claude_body(call.body, stream=False, deployment=lp.as_dict,
                                                             upstream_model=lp.upstream_model))
        payload = await self._post(deployment, self.url(deployment, "rawPredict"), body, timeout, extra)
        return {"body": claude_pass.with_group(payload, group), "usage": claude.usage_from_claude(payload.get("usage"))}

    async def native_stream(self, deployment: Deployment, call, group: str, *, timeout: float) -> AsyncIterator[dict]:
        lp = deployment.litellm_params
        await self.tokens.load(lp.vertex_credentials)
        if not is_claude(lp.upstream_model) and native_api.passes_through(call):
            async for item in native_api.stream(self._sse_payloads, deployment, call, vertex=True, timeout=timeout):
                yield item
            return
        if not (call.family == "anthropic" and is_claude(lp.upstream_model)):
            async for item in super().native_stream(deployment, call, group, timeout=timeout):
                yield item
            return
        body = extras.body(deployment, claude_pass.claude_body(call.body, stream=True, deployment=lp.as_dict,
                                                             upstream_model=lp.upstream_model))
        tracker = claude_pass.ClaudeEventTracker(group)
        feed = lambda _name, payload: [{"event": tracker.see(payload)}]  # noqa: E731
        async for item in self._events(deployment, self.url(deployment, "streamRawPredict"), body, timeout, feed,
                                       claude_pass.beta_headers(call.betas)):
            yield item
        tracker.finish()
        yield {"usage": tracker.openai_usage()}
