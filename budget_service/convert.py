"""Ledger documents <-> budget proto messages (pure)."""

from __future__ import annotations

from google.protobuf import json_format, struct_pb2

from budget_service.durations import iso
from budget_service.ledger import usd
from gemgate.v1 import budget_pb2


def _struct(d: dict | None) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d or {})
    return s


def identity(is_master: bool, doc: dict | None, team: dict | None = None) -> budget_pb2.KeyIdentity:
    if doc is None:
        return budget_pb2.KeyIdentity(is_master=is_master)
    return budget_pb2.KeyIdentity(
        is_master=False, key_hash=doc["token"], key_alias=doc.get("key_alias") or "",
        team_id=doc.get("team_id") or "", user_id=doc.get("user_id") or "", models=doc.get("models") or [],
        metadata=_struct(doc.get("metadata")), aliases=doc.get("aliases") or {},
        team_models=(team or {}).get("models") or [],
    )


def _limits(doc: dict) -> dict:
    out = {}
    for f in ("tpm_limit", "rpm_limit", "max_parallel_requests"):
        if doc.get(f) is not None:
            out[f] = doc[f]
    if doc.get("max_budget") is not None:
        out["max_budget"] = usd(doc["max_budget"])
    return out


def key_info(doc: dict, *, spend: int = 0, total: int = 0, reset_at: str = "") -> budget_pb2.KeyInfo:
    return budget_pb2.KeyInfo(
        token=doc["token"], key_name=doc.get("key_name") or "", key_alias=doc.get("key_alias") or "",
        team_id=doc.get("team_id") or "", user_id=doc.get("user_id") or "", models=doc.get("models") or [],
        budget_duration=doc.get("budget_duration") or "", metadata=_struct(doc.get("metadata")),
        aliases=doc.get("aliases") or {}, spend=usd(spend), total_spend=usd(total), expires=iso(doc.get("expires")),
        blocked=bool(doc.get("blocked")), created_at=iso(doc.get("created")), budget_reset_at=reset_at,
        **_limits(doc),
    )


def entity_info(doc: dict, *, spend: int = 0, total: int = 0, reset_at: str = "", keys=()) -> budget_pb2.EntityInfo:
    return budget_pb2.EntityInfo(
        id=doc["id"], alias=doc.get("alias") or "", models=doc.get("models") or [],
        budget_duration=doc.get("budget_duration") or "", metadata=_struct(doc.get("metadata")),
        spend=usd(spend), total_spend=usd(total), created_at=iso(doc.get("created")), budget_reset_at=reset_at,
        keys=list(keys), **_limits(doc),
    )


def _common_spec(spec, out: dict) -> dict:
    if spec.models_set or spec.models:
        out["models"] = list(spec.models)
    if spec.clear_max_budget:
        out["max_budget"] = None
    elif spec.HasField("max_budget"):
        out["max_budget"] = spec.max_budget
    for f in ("budget_duration", "tpm_limit", "rpm_limit", "max_parallel_requests"):
        if spec.HasField(f):
            out[f] = getattr(spec, f)
    if spec.metadata_set or spec.HasField("metadata"):
        out["metadata"] = json_format.MessageToDict(spec.metadata)
    return out


def key_spec(spec: budget_pb2.KeySpec) -> dict:
    out = _common_spec(spec, {})
    for f in ("key_alias", "team_id", "user_id", "duration", "blocked"):
        if spec.HasField(f):
            out[f] = getattr(spec, f)
    if spec.aliases_set or spec.aliases:
        out["aliases"] = dict(spec.aliases)
    return out


def entity_spec(spec: budget_pb2.EntitySpec) -> dict:
    out = _common_spec(spec, {})
    if spec.HasField("alias"):
        out["alias"] = spec.alias
    return out
