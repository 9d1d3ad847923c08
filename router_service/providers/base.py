"""What every provider adapter offers the router. Adapters are thin IO: build URL + auth, send with
the process-wide pooled httpx client, hand bodies to the pure translator, raise GatewayError."""

from __future__ import annotations

from typing import TYPE_CHECKING

import abc
from collections.abc import AsyncIterator

if TYPE_CHECKING:
    from gemgate.config import Deployment


class Provider(abc.ABC):
    @abc.abstractmethod
    async def chat(self, deployment: Deployment, request: dict, *, timeout: float) -> dict:
        """OpenAI chat request dict -> OpenAI chat.completion dict."""

    @abc.abstractmethod
    def stream(self, deployment: Deployment, request: dict, *, timeout: float) -> AsyncIterator[dict]:
        """OpenAI chat request dict -> OpenAI chunk dicts. The last chunk has `choices == []` and
        the final `usage` (always produced; the servicer forwards it only on include_usage)."""

    async def embed(self, deployment: Deployment, request: dict, *, timeout: float) -> dict:
        from gemgate.errors import invalid

        raise invalid(f"model {deployment.model_name!r} does not support embeddings", "model")

    async def native(self, deployment: Deployment, call, group: str, *, timeout: float) -> dict:
        """A NativeCall (router_service.native.call) -> {"body", "usage"}. Default: translated
        through chat; providers pass their own API family through instead."""
        from gemgate.errors import invalid
        from router_service.native.call import via_chat

        if call.op != "generate":
            raise invalid(f"model {deployment.model_name!r} does not support {call.op}", "model")
        return await via_chat(self.chat, deployment, call, group, timeout=timeout)

    def native_stream(self, deployment: Deployment, call, group: str, *, timeout: float) -> AsyncIterator[dict]:
        """A streaming NativeCall -> {"event"} items, then one {"usage"} item."""
        from router_service.native.call import via_stream

        return via_stream(self.stream, deployment, call, group, timeout=timeout)

    async def aclose(self) -> None:  # pragma: no cover - default no-op
        return None
