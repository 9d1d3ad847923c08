"""Gemini API (Google AI Studio): `model: gemini/<name>`, auth by `x-goog-api-key`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import json
from collections.abc import AsyncIterator

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers import gemini_flow as flow
from router_service.providers import gemini_native as native_api
from router_service.providers import upstream_extras as extras
from router_service.providers.base import Provider
from router_service.providers.gemini import translate
from router_service.providers.gemini.fetch_images import MediaFetcher
from router_service.providers.sse import iter_sse
from router_service.providers.upstream_http import UpstreamClient, UpstreamTimeout, UpstreamTransportError

if TYPE_CHECKING:
    from gemgate.config import Deployment

DEFAULT_BASE = "https://generativelanguage.googleapis.com/v1beta"


def transport_error(exc: UpstreamTransportError, where: str) -> GatewayError:
    if isinstance(exc, UpstreamTimeout):
        return GatewayError(ErrorKind.UPSTREAM_TIMEOUT, f"{where}: upstream timed out")
    return GatewayError(ErrorKind.BAD_GATEWAY, f"{where}: cannot reach upstream ({type(exc).__name__})")


class AIStudioProvider(Provider):
    def __init__(self, http: UpstreamClient, fetcher: MediaFetcher | None = None) -> None:
        self.http = http
        self.fetcher = fetcher or MediaFetcher()

    def _url(self, dep: Deployment, op: str) -> str:
        base = (dep.litellm_params.api_base or DEFAULT_BASE).rstrip("/")
        return f"{base}/models/{dep.litellm_params.upstream_model}:{op}"

    def _headers(self, dep: Deployment) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if dep.litellm_params.api_key:
            headers["x-goog-api-key"] = dep.litellm_params.api_key
        return extras.headers(dep, headers)

    async def _post(self, dep: Deployment, op: str, body: dict, timeout: float) -> dict:
        try:
            resp = await self.http.post(self._url(dep, op), json=body, headers=self._headers(dep), timeout=timeout)
        except UpstreamTransportError as exc:
            raise transport_error(exc, "Gemini") from None
        if resp.status_code != 200:
            raise translate.error_from_gemini(resp.status_code, resp.content)
        try:
            return resp.json()
        except ValueError:
            raise GatewayError(ErrorKind.BAD_GATEWAY, "Gemini: upstream returned invalid JSON") from None

    async def chat(self, deployment: Deployment, request: dict, *, timeout: float) -> dict:
        body = extras.body(deployment, await flow.chat_body(self.fetcher, deployment, request, vertex=False))
        payload = await self._post(deployment, "generateContent", body, timeout)
        return flow.chat_reply(payload, request, vertex=False)

    async def stream(self, deployment: Deployment, request: dict, *, timeout: float) -> AsyncIterator[dict]:
        body = extras.body(deployment, await flow.chat_body(self.fetcher, deployment, request, vertex=False))
        url = self._url(deployment, "streamGenerateContent") + "?alt=sse"
        state = flow.stream_state(request)
        try:
            async with self.http.stream("POST", url, json=body, headers=self._headers(deployment), timeout=timeout) as resp:
                if resp.status_code != 200:
                    raise translate.error_from_gemini(resp.status_code, await resp.aread())
                async for event in iter_sse(resp.aiter_lines()):
                    try:
                        payload = json.loads(event.data)
                    except ValueError:
                        raise GatewayError(ErrorKind.BAD_GATEWAY, "Gemini: invalid JSON in stream") from None
                    for chunk in state.feed(payload):
                        yield chunk
        except UpstreamTransportError as exc:
            raise transport_error(exc, "Gemini") from None
        for chunk in state.finish():
            yield chunk

    async def embed(self, deployment: Deployment, request: dict, *, timeout: float) -> dict:
        op, body = flow.embed_call(deployment, request, vertex=False)
        return flow.embed_reply(await self._post(deployment, op, body, timeout), request)

    # ---- native APIs ----
    async def _post_op(self, dep: Deployment, op: str, body: dict, timeout: float) -> dict:
        return await self._post(dep, op, body, timeout)

    async def _sse_payloads(self, dep: Deployment, op: str, body: dict, timeout: float) -> AsyncIterator[dict]:
        url = self._url(dep, op) + "?alt=sse"
        try:
            async with self.http.stream("POST", url, json=body, headers=self._headers(dep), timeout=timeout) as resp:
                if resp.status_code != 200:
                    raise translate.error_from_gemini(resp.status_code, await resp.aread())
                async for event in iter_sse(resp.aiter_lines()):
                    try:
                        yield json.loads(event.data)
                    except ValueError:
                        raise GatewayError(ErrorKind.BAD_GATEWAY, "Gemini: invalid JSON in stream") from None
        except UpstreamTransportError as exc:
            raise transport_error(exc, "Gemini") from None

    async def native(self, deployment: Deployment, call, group: str, *, timeout: float) -> dict:
        result = await native_api.unary(self._post_op, self.fetcher, deployment, call, group, vertex=False, timeout=timeout)
        if result is not None:
            return result
        return await super().native(deployment, call, group, timeout=timeout)

    async def native_stream(self, deployment: Deployment, call, group: str, *, timeout: float) -> AsyncIterator[dict]:
        if native_api.passes_through(call):
            items = native_api.stream(self._sse_payloads, deployment, call, vertex=False, timeout=timeout)
        else:
            items = super().native_stream(deployment, call, group, timeout=timeout)
        async for item in items:
            yield item
