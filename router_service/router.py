"""Routing across the deployments of a model group.

Public surface used by the servicer (keep it stable):
    router = Router(config, providers)
    response, info = await router.chat(request)
    info, chunks = await router.stream(request)   # first chunk already fetched
    response, info = await router.embed(request)
    router.model_groups()
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from gemgate.config import Deployment, GatewayConfig
from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.base import Provider

DEFAULT_TIMEOUT = 600.0


@dataclass
class RouteInfo:
    model_group: str
    model_id: str = ""
    provider: str = ""
    attempts: int = 0
    fallback_used: str | None = None
    deployment: Deployment | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        out = {
            "x-gemgate-model-group": self.model_group,
            "x-gemgate-model-id": self.model_id,
            "x-gemgate-attempts": str(self.attempts),
        }
        if self.fallback_used:
            out["x-gemgate-fallback"] = self.fallback_used
        return out


class Router:
    def __init__(self, config: GatewayConfig, providers: dict[str, Provider]) -> None:
        self.config = config
        self.providers = providers
        self.groups = config.groups()

    def model_groups(self) -> list[str]:
        return list(self.groups)

    def _deployments(self, group: str) -> list[Deployment]:
        deps = self.groups.get(group)
        if not deps:
            raise GatewayError(
                ErrorKind.MODEL_NOT_FOUND,
                f"The model `{group}` does not exist. Available models: {', '.join(sorted(self.groups)) or 'none'}",
                param="model",
            )
        return deps

    def _timeout(self, dep: Deployment, stream: bool) -> float:
        p, rs = dep.litellm_params, self.config.router_settings
        if stream:
            return p.stream_timeout or rs.stream_timeout or p.timeout or rs.timeout or DEFAULT_TIMEOUT
        return p.timeout or rs.timeout or self.config.litellm_settings.request_timeout or DEFAULT_TIMEOUT

    def _provider(self, dep: Deployment) -> Provider:
        return self.providers[dep.litellm_params.provider]

    async def chat(self, request: dict) -> tuple[dict, RouteInfo]:
        group = request["model"]
        dep = self._deployments(group)[0]
        info = RouteInfo(group, dep.model_info.id or "", dep.litellm_params.provider, 1, deployment=dep)
        response = await self._provider(dep).chat(dep, request, timeout=self._timeout(dep, False))
        return response, info

    async def stream(self, request: dict) -> tuple[RouteInfo, AsyncIterator[dict]]:
        group = request["model"]
        dep = self._deployments(group)[0]
        info = RouteInfo(group, dep.model_info.id or "", dep.litellm_params.provider, 1, deployment=dep)
        agen = self._provider(dep).stream(dep, request, timeout=self._timeout(dep, True)).__aiter__()
        first = await agen.__anext__()

        async def chained() -> AsyncIterator[dict]:
            yield first
            async for chunk in agen:
                yield chunk

        return info, chained()

    async def embed(self, request: dict) -> tuple[dict, RouteInfo]:
        group = request["model"]
        dep = self._deployments(group)[0]
        info = RouteInfo(group, dep.model_info.id or "", dep.litellm_params.provider, 1, deployment=dep)
        response = await self._provider(dep).embed(dep, request, timeout=self._timeout(dep, False))
        return response, info
