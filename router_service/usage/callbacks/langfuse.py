"""Langfuse sink: one trace + one generation per request through the public ingestion API.

POST {host}/api/public/ingestion  {"batch": [event, ...]}  with HTTP Basic auth (public key : secret
key). Event and observation ids derive from the request id (uuid5), so a retried batch upserts
instead of duplicating. Langfuse answers 207 with per-event errors; any error fails the batch (the
dispatcher retries). No prompt or completion text is sent (as with every gemgate sink): inputs and
outputs carry request parameters, token usage, cost and finish reasons only.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone

import httpx

from router_service.usage.callbacks import SinkError, raise_for_status
from router_service.usage.record import UsageRecord

DEFAULT_HOST = "https://cloud.langfuse.com"
_NS = uuid.UUID("0b7c4f0e-6a43-4c1e-9a55-3c2e8f1d7b21")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _id(kind: str, request_id: str) -> str:
    return str(uuid.uuid5(_NS, f"{kind}:{request_id}"))


def to_events(rec: UsageRecord) -> list[dict]:
    trace_id, gen_id = _id("trace", rec.request_id), _id("generation", rec.request_id)
    start, end = _iso(rec.start_time), _iso(rec.end_time or rec.start_time)
    meta = {"request_id": rec.request_id, "model_group": rec.model_group, "deployment_id": rec.deployment_id,
            "provider": rec.provider, "key_alias": rec.key_alias, "key_hash_prefix": rec.key_hash_prefix,
            "team_id": rec.team_id, "user_id": rec.user_id, "attempts": rec.attempts,
            "fallback_used": rec.fallback_used, "finish_reasons": rec.finish_reasons, "stream": rec.stream}
    generation = {
        "id": gen_id, "traceId": trace_id, "name": f"gemgate/{rec.model_group}", "startTime": start, "endTime": end,
        "model": rec.model or rec.model_group,
        "modelParameters": {k: v for k, v in (("max_tokens", rec.max_tokens), ("temperature", rec.temperature))
                            if v is not None},
        "usage": {"input": rec.prompt_tokens, "output": rec.completion_tokens, "total": rec.total_tokens,
                  "unit": "TOKENS"},
        "usageDetails": {"input": rec.prompt_tokens, "output": rec.completion_tokens,
                         "cache_read_input_tokens": rec.cached_tokens, "reasoning_tokens": rec.reasoning_tokens},
        "metadata": meta,
        "level": "ERROR" if rec.status == "failure" else "DEFAULT",
    }
    if rec.response_cost is not None:
        generation["costDetails"] = {"total": rec.response_cost}
    if rec.first_token_time is not None:
        generation["completionStartTime"] = _iso(rec.first_token_time)
    if rec.status == "failure":
        generation["statusMessage"] = f"{rec.error_type}: {rec.error_message}" if rec.error_message else rec.error_type
    trace = {"id": trace_id, "name": f"gemgate/{rec.model_group}", "timestamp": start,
             "userId": rec.user_id or None, "tags": ["gemgate", rec.status], "metadata": meta}
    return [
        {"id": _id("trace-event", rec.request_id), "type": "trace-create", "timestamp": start, "body": trace},
        {"id": _id("generation-event", rec.request_id), "type": "generation-create", "timestamp": start,
         "body": generation},
    ]


class LangfuseSink:
    name = "langfuse"

    def __init__(self, client: httpx.AsyncClient, *, public_key: str, secret_key: str, host: str = DEFAULT_HOST) -> None:
        self._client = client
        self._url = host.rstrip("/") + "/api/public/ingestion"
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self._headers = {"authorization": f"Basic {token}"}

    async def send(self, records: list[UsageRecord]) -> None:
        batch = [e for r in records for e in to_events(r)]
        resp = await self._client.post(self._url, json={"batch": batch}, headers=self._headers)
        raise_for_status(self.name, resp.status_code)
        if resp.status_code == 207:
            try:
                errors = (resp.json() or {}).get("errors") or []
            except ValueError:
                errors = []
            if errors:
                raise SinkError(f"{self.name}: {len(errors)} of {len(batch)} events were rejected")

    async def aclose(self) -> None:
        return None
