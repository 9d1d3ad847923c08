"""Usage sinks. A sink takes a batch of records and delivers it somewhere; it may raise (the
dispatcher counts, retries and isolates failures) but must not block the event loop."""

from __future__ import annotations

from typing import Protocol

from router_service.usage.record import UsageRecord


class UsageSink(Protocol):
    name: str

    async def send(self, records: list[UsageRecord]) -> None: ...

    async def aclose(self) -> None: ...


class SinkError(Exception):
    """A sink's receiver refused a batch (non-2xx); the message names the status, never a secret."""


def raise_for_status(sink: str, status: int) -> None:
    if status >= 300:
        raise SinkError(f"{sink}: receiver answered HTTP {status}")


def parse_header_list(value: str | None) -> dict[str, str]:
    """`k1=v1,k2=v2` (OTEL_EXPORTER_OTLP_HEADERS / GENERIC_LOGGER_HEADERS style; values may be
    %-encoded) -> dict. A JSON object is accepted too."""
    import json
    from urllib.parse import unquote

    if not value or not value.strip():
        return {}
    v = value.strip()
    if v.startswith("{"):
        return {str(k): str(x) for k, x in json.loads(v).items()}
    out: dict[str, str] = {}
    for part in v.split(","):
        if "=" not in part:
            continue
        k, x = part.split("=", 1)
        out[unquote(k.strip())] = unquote(x.strip())
    return out
