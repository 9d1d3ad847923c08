"""Spend-log rows (pure): router facts (SpendLogEntry) + what the ledger charged -> a record row.

A row is a dict with record.SPEND_COLUMNS. The ledger's charge (outbox entry) is authoritative for
request_id, key/team/user ids, spend and charge time; the router's facts fill the rest.
"""

from __future__ import annotations

import json

from google.protobuf import json_format

from budget_service.record.base import SPEND_COLUMNS
from gemgate.v1 import budget_pb2

_ROUTER_FIELDS = (
    "call_type", "api_key", "key_alias", "end_user", "model_group", "model_id", "model", "custom_llm_provider",
    "prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens", "start_time",
    "end_time", "status", "request_tags", "metadata",
)
MAX_TAGS = 32


def entry_to_json(entry: budget_pb2.SpendLogEntry) -> str:
    """The router's facts as the JSON staged next to a settlement (P log:{request_id})."""
    d = {f: getattr(entry, f) for f in _ROUTER_FIELDS if f not in ("request_tags", "metadata")}
    d["request_tags"] = [str(t)[:256] for t in list(entry.request_tags)[:MAX_TAGS]]
    d["metadata"] = json_format.MessageToDict(entry.metadata) if entry.HasField("metadata") else {}
    return json.dumps(d, separators=(",", ":"))


def stream_time(stream_id: str) -> float:
    """A Redis stream id's time (ms) in unix seconds: when the charge happened."""
    return int(str(stream_id).split("-", 1)[0]) / 1000.0


def row_from_charge(stream_id: str, fields: dict) -> dict:
    """One outbox entry (written by the charge Lua script or an unreserved charge) -> a row."""
    attrib = _loads(fields.get("attrib")) or {}
    facts = _loads(fields.get("log")) or {}
    charged_at = stream_time(stream_id)
    how = str(fields.get("how") or "")
    row: dict = {c: None for c in SPEND_COLUMNS}
    for f in _ROUTER_FIELDS:
        if f in facts:
            row[f] = facts[f]
    row.update(
        request_id=str(fields.get("rid") or ""), key_id=attrib.get("key") or "", team_id=attrib.get("team") or "",
        user_id=attrib.get("user") or "", spend_micros=_cost(fields.get("cost"), how),
        charged_at=charged_at, charge=how,
    )
    row["model_group"] = row["model_group"] or str(fields.get("model") or "")
    row["status"] = row["status"] or ("success" if how == "settled" else "failure")
    row["start_time"] = row["start_time"] or charged_at
    row["end_time"] = row["end_time"] or charged_at
    for f in ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens"):
        row[f] = int(row[f] or 0)
    row["total_tokens"] = int(row["total_tokens"] or (row["prompt_tokens"] + row["completion_tokens"]))
    row["request_tags"] = list(row["request_tags"] or [])
    row["metadata"] = dict(row["metadata"] or {})
    for f in ("call_type", "api_key", "key_alias", "end_user", "model_id", "model", "custom_llm_provider"):
        row[f] = str(row[f] or "")
    return row


def row_to_entry(row: dict) -> budget_pb2.SpendLogEntry:
    e = budget_pb2.SpendLogEntry(
        **{f: row[f] for f in ("call_type", "api_key", "key_alias", "end_user", "model_group", "model_id", "model",
                               "custom_llm_provider", "status", "request_id", "team_id", "user_id", "charge")},
        **{f: int(row[f] or 0) for f in ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens",
                                         "reasoning_tokens", "spend_micros")},
        start_time=row["start_time"] or 0.0, end_time=row["end_time"] or 0.0, charged_at=row["charged_at"] or 0.0,
        request_tags=list(row.get("request_tags") or []),
    )
    if row.get("metadata"):
        e.metadata.update(row["metadata"])
    return e


def _cost(raw, how: str) -> int:
    """Charges are >= 0; a correction of a swept charge (late settle) may be negative."""
    try:
        v = int(float(raw or 0))
    except ValueError:
        return 0
    return v if how == "corrected" else max(0, v)


def _loads(raw) -> dict | None:
    if not raw:
        return None
    try:
        v = json.loads(raw)
    except ValueError:
        return None
    return v if isinstance(v, dict) else None
