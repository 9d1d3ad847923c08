"""Gemini API (Google AI Studio): `model: gemini/<name>`, auth by `x-goog-api-key`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from gemgate.config import Deployment
from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.base import Provider
from router_service.providers.gemini import translate
from router_service.providers.sse import iter_sse

DEFAULT_BASE = "https://generativelanguage.googleapis.com/v1beta"


def transport_error(exc: httpx.HTTPError, where: str) -> GatewayError:
    if isinstance(exc, httpx.TimeoutException):
        return GatewayError(ErrorKind.UPSTREAM_TIMEOUT, f"{where}: upstream timed out")
    return GatewayError(ErrorKind.BAD_GATEWAY, f"{where}: cannot reach upstream ({type(exc).__name__})")


class AIStudioProvider(Provider):
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    def _url(self, dep: Deployment, op: str) -> str:
        base = (dep.litellm_params.api_base or DEFAULT_BASE).rstrip("/")
        return f"{base}/models/{dep.litellm_params.upstream_model}:{op}"

    def _headers(self, dep: Deployment) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if dep.litellm_params.api_key:
            headers["x-goog-api-key"] = dep.litellm_params.api_key
        return headers

    def _body(self, dep: Deployment, request: dict) -> dict:
        return translate.to_gemini_request(request, vertex=False, deployment=dep.litellm_params.model_dump())

    async def chat(self, deployment: Deployment, request: dict, *, timeout: float) -> dict:
        body = self._body(deployment, request)
        try:
            resp = await self.http.post(
                self._url(deployment, "generateContent"), json=body, headers=self._headers(deployment), timeout=timeout
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc, "Gemini") from None
        if resp.status_code != 200:
            raise translate.error_from_gemini(resp.status_code, resp.content)
        try:
            payload = resp.json()
        except ValueError:
            raise GatewayError(ErrorKind.BAD_GATEWAY, "Gemini: upstream returned invalid JSON") from None
        return translate.from_gemini_response(payload, model=request["model"])

    async def stream(self, deployment: Deployment, request: dict, *, timeout: float) -> AsyncIterator[dict]:
        body = self._body(deployment, request)
        url = self._url(deployment, "streamGenerateContent") + "?alt=sse"
        state = translate.GeminiStreamTranslator(model=request["model"])
        try:
            async with self.http.stream(
                "POST", url, json=body, headers=self._headers(deployment), timeout=timeout
            ) as resp:
                if resp.status_code != 200:
                    raise translate.error_from_gemini(resp.status_code, await resp.aread())
                async for event in iter_sse(resp.aiter_lines()):
                    try:
                        payload = json.loads(event.data)
                    except ValueError:
                        raise GatewayError(ErrorKind.BAD_GATEWAY, "Gemini: invalid JSON in stream") from None
                    for chunk in state.feed(payload):
                        yield chunk
        except httpx.HTTPError as exc:
            raise transport_error(exc, "Gemini") from None
        for chunk in state.finish():
            yield chunk
