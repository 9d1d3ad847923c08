"""Generic webhook sink (LiteLLM's `generic_api`): POST a JSON array of StandardLoggingPayload-shaped
objects to GENERIC_LOGGER_ENDPOINT with GENERIC_LOGGER_HEADERS."""

from __future__ import annotations

import httpx

from router_service.usage.callbacks import raise_for_status
from router_service.usage.record import UsageRecord


class GenericApiSink:
    name = "generic_api"

    def __init__(self, client: httpx.AsyncClient, *, endpoint: str, headers: dict[str, str] | None = None) -> None:
        self._client = client
        self._url = endpoint
        self._headers = {"content-type": "application/json", **(headers or {})}

    async def send(self, records: list[UsageRecord]) -> None:
        resp = await self._client.post(self._url, json=[r.to_standard_payload() for r in records],
                                       headers=self._headers)
        raise_for_status(self.name, resp.status_code)

    async def aclose(self) -> None:
        return None
