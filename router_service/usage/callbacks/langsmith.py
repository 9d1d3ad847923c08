"""LangSmith sink: one `llm` run per request via the batch ingest endpoint.

POST {base}/runs/batch  {"post": [run, ...]}  with header x-api-key. Run ids are derived from the
request id (uuid5), so a retried batch upserts instead of duplicating. No prompt or completion text is
sent: inputs/outputs carry request parameters, token usage and finish reasons only.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import httpx

from router_service.usage.callbacks import raise_for_status
from router_service.usage.record import UsageRecord

DEFAULT_BASE_URL = "https://api.smith.langchain.com"
_RUN_NS = uuid.UUID("6f1c1a52-2f4e-4c55-9a36-1f0d2b8a7e10")


def run_id(request_id: str) -> str:
    return str(uuid.uuid5(_RUN_NS, request_id))


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def to_run(rec: UsageRecord, project: str) -> dict:
    rid = run_id(rec.request_id)
    start = _dt(rec.start_time)
    run = {
        "id": rid,
        "trace_id": rid,
        "dotted_order": f"{start.strftime('%Y%m%dT%H%M%S%fZ')}{rid}",
        "name": f"gemgate/{rec.model_group}",
        "run_type": "llm" if rec.call_type == "chat" else "embedding",
        "session_name": project,
        "start_time": start.isoformat(),
        "end_time": _dt(rec.end_time or rec.start_time).isoformat(),
        "inputs": {"model": rec.model_group, "stream": rec.stream, "max_tokens": rec.max_tokens,
                   "temperature": rec.temperature},
        "outputs": {
            "id": rec.response_id,
            "model": rec.model,
            "finish_reasons": rec.finish_reasons,
            "usage_metadata": {
                "input_tokens": rec.prompt_tokens,
                "output_tokens": rec.completion_tokens,
                "total_tokens": rec.total_tokens,
                "input_token_details": {"cache_read": rec.cached_tokens},
                "output_token_details": {"reasoning": rec.reasoning_tokens},
            },
        },
        "extra": {
            "metadata": {
                "ls_provider": rec.provider,
                "ls_model_name": rec.model or rec.model_group,
                "request_id": rec.request_id,
                "model_group": rec.model_group,
                "deployment_id": rec.deployment_id,
                "key_alias": rec.key_alias,
                "key_hash_prefix": rec.key_hash_prefix,
                "team_id": rec.team_id,
                "user_id": rec.user_id,
                "response_cost": rec.response_cost,
                "attempts": rec.attempts,
                "fallback_used": rec.fallback_used,
            },
        },
        "tags": ["gemgate", rec.status],
    }
    if rec.first_token_time is not None:
        run["events"] = [{"name": "new_token", "time": _dt(rec.first_token_time).isoformat()}]
    if rec.status == "failure":
        run["error"] = f"{rec.error_type}: {rec.error_message}" if rec.error_message else rec.error_type
    return run


class LangSmithSink:
    name = "langsmith"

    def __init__(self, client: httpx.AsyncClient, *, api_key: str, project: str = "default",
                 base_url: str = DEFAULT_BASE_URL) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/runs/batch"
        self._headers = {"x-api-key": api_key}
        self.project = project

    async def send(self, records: list[UsageRecord]) -> None:
        body = {"post": [to_run(r, self.project) for r in records], "patch": []}
        resp = await self._client.post(self._url, json=body, headers=self._headers)
        raise_for_status(self.name, resp.status_code)

    async def aclose(self) -> None:
        return None
