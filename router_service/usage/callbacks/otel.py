"""OpenTelemetry sink: one CLIENT span per request, OTLP/HTTP with JSON encoding (no SDK needed).

POST {OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as-is).
Attributes follow the OpenTelemetry GenAI semantic conventions (gen_ai.*) plus gemgate.* facts.
Ids are hex (trace 32, span 16 chars) derived from the request id; times are unix nanoseconds as
strings, and int64 attribute values are strings, as the OTLP JSON mapping requires.
"""

from __future__ import annotations

import hashlib

import httpx

from router_service.usage.callbacks import raise_for_status
from router_service.usage.record import UsageRecord

SPAN_KIND_CLIENT = 3
STATUS_OK, STATUS_ERROR = 1, 2
PROVIDER_NAMES = {"gemini": "gcp.gemini", "vertex_ai": "gcp.vertex_ai"}


def trace_and_span_ids(request_id: str) -> tuple[str, str]:
    h = hashlib.sha256(request_id.encode()).hexdigest()
    return h[:32], h[32:48]


def _nanos(ts: float) -> str:
    """Unix seconds (float) -> nanoseconds as a decimal string, without float overflow of precision."""
    whole = int(ts)
    return str(whole * 1_000_000_000 + int(round((ts - whole) * 1_000_000_000)))


def _attr(key: str, value) -> dict | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        v = {"boolValue": value}
    elif isinstance(value, int):
        v = {"intValue": str(value)}
    elif isinstance(value, float):
        v = {"doubleValue": value}
    elif isinstance(value, (list, tuple)):
        v = {"arrayValue": {"values": [{"stringValue": str(x)} for x in value]}}
    else:
        v = {"stringValue": str(value)}
    return {"key": key, "value": v}


def to_span(rec: UsageRecord) -> dict:
    trace_id, span_id = trace_and_span_ids(rec.request_id)
    op = "chat" if rec.call_type == "chat" else "embeddings"
    provider = PROVIDER_NAMES.get(rec.provider, rec.provider or "gcp.gemini")
    attrs = [
        _attr("gen_ai.operation.name", op),
        _attr("gen_ai.provider.name", provider),
        _attr("gen_ai.system", provider),
        _attr("gen_ai.request.model", rec.model_group),
        _attr("gen_ai.response.model", rec.model or None),
        _attr("gen_ai.response.id", rec.response_id or None),
        _attr("gen_ai.response.finish_reasons", rec.finish_reasons or None),
        _attr("gen_ai.request.max_tokens", rec.max_tokens),
        _attr("gen_ai.request.temperature", float(rec.temperature) if rec.temperature is not None else None),
        _attr("gen_ai.usage.input_tokens", rec.prompt_tokens),
        _attr("gen_ai.usage.output_tokens", rec.completion_tokens),
        _attr("gemgate.request_id", rec.request_id),
        _attr("gemgate.deployment_id", rec.deployment_id),
        _attr("gemgate.stream", rec.stream),
        _attr("gemgate.usage.cached_tokens", rec.cached_tokens),
        _attr("gemgate.usage.reasoning_tokens", rec.reasoning_tokens),
        _attr("gemgate.response_cost_usd", float(rec.response_cost)),
        _attr("gemgate.key_alias", rec.key_alias),
        _attr("gemgate.key_hash_prefix", rec.key_hash_prefix),
        _attr("gemgate.team_id", rec.team_id),
        _attr("gemgate.user_id", rec.user_id),
        _attr("gemgate.attempts", rec.attempts),
        _attr("gemgate.fallback_used", rec.fallback_used),
    ]
    if rec.time_to_first_token is not None:
        attrs.append(_attr("gemgate.time_to_first_token_s", float(rec.time_to_first_token)))
    status = {"code": STATUS_OK}
    if rec.status == "failure":
        attrs.append(_attr("error.type", rec.error_type or "_OTHER"))
        status = {"code": STATUS_ERROR, "message": rec.error_message}
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": f"{op} {rec.model_group}",
        "kind": SPAN_KIND_CLIENT,
        "startTimeUnixNano": _nanos(rec.start_time),
        "endTimeUnixNano": _nanos(rec.end_time or rec.start_time),
        "attributes": [a for a in attrs if a is not None],
        "status": status,
    }
    if rec.first_token_time is not None:
        span["events"] = [{"timeUnixNano": _nanos(rec.first_token_time), "name": "gen_ai.first_token"}]
    return span


def to_export_request(records: list[UsageRecord], service_name: str = "gemgate") -> dict:
    return {
        "resourceSpans": [{
            "resource": {"attributes": [_attr("service.name", service_name)]},
            "scopeSpans": [{
                "scope": {"name": "gemgate.usage", "version": "0.1.0"},
                "spans": [to_span(r) for r in records],
            }],
        }]
    }


def traces_url(endpoint: str) -> str:
    """Base OTLP endpoint -> its traces URL (the signal path is appended unless already there)."""
    e = endpoint.rstrip("/")
    return e if e.endswith("/v1/traces") else e + "/v1/traces"


class OtelSink:
    name = "otel"

    def __init__(self, client: httpx.AsyncClient, *, url: str, headers: dict[str, str] | None = None,
                 service_name: str = "gemgate") -> None:
        self._client = client
        self._url = url
        self._headers = {"content-type": "application/json", **(headers or {})}
        self.service_name = service_name

    async def send(self, records: list[UsageRecord]) -> None:
        resp = await self._client.post(self._url, json=to_export_request(records, self.service_name),
                                       headers=self._headers)
        raise_for_status(self.name, resp.status_code)

    async def aclose(self) -> None:
        return None
