"""LiteLLM-compatible key, team, user and spend management routes (served by budget_service).

Mount with `app.include_router(management.router)`. Needs `app.state.budget` (a
BudgetServiceStub on a grpc.aio channel). Errors are raised as GatewayError; the app's handler
renders the OpenAI error envelope. Bodies are validated strictly (unknown fields -> 400).
Money in these JSON shapes is USD (floats), as in LiteLLM.
"""

from __future__ import annotations

from typing import Any

import grpc
from fastapi import APIRouter, Request
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gemgate import safejson
from gemgate.openai_proto import STRUCT_MAX_DEPTH

from gemgate.errors import ErrorKind, GatewayError, invalid
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import budget_pb2
from rest_facade import openapi_doc as docs
from rest_facade.auth import caller_key
from rest_facade.body import json_body

router = APIRouter()
DEADLINE = 5.0


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_USD = 1e12       # fits the ledger's int64 micro-USD with room to spare
MAX_LIMIT = 10**12   # rpm/tpm/parallel limits: exact in Redis Lua numbers (doubles)


class _Limits(_Body):
    models: list[str] | None = None
    max_budget: float | None = Field(default=None, ge=0, le=MAX_USD, allow_inf_nan=False)
    budget_duration: str | None = Field(default=None, max_length=32)
    tpm_limit: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    rpm_limit: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    max_parallel_requests: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    metadata: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _shallow(cls, v: dict | None) -> dict | None:
        if v is not None:
            safejson.check_depth(v, STRUCT_MAX_DEPTH, base=("metadata",))
        return v


class KeyBody(_Limits):
    key: str | None = None          # /key/update target, or a custom key on /key/generate
    key_alias: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    duration: str | None = Field(default=None, max_length=32)
    aliases: dict[str, str] | None = None
    blocked: bool | None = None


class TeamBody(_Limits):
    team_id: str | None = None
    team_alias: str | None = None


class UserBody(_Limits):
    user_id: str | None = None
    user_email: str | None = None
    user_alias: str | None = None


class KeysBody(_Body):
    keys: list[str] | None = None
    key_aliases: list[str] | None = None


class KeyRefBody(_Body):
    key: str


async def _body(request: Request, model: type[BaseModel]) -> BaseModel:
    data = await json_body(request, empty_ok=True)
    try:
        return model.model_validate(data)
    except GatewayError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise invalid(f"{loc}: {msg}", param=loc or None) from None


async def _call(request: Request, rpc: str, msg):
    stub = getattr(request.app.state, "budget", None)
    if stub is None:
        raise GatewayError(ErrorKind.PERMISSION, "Key management needs general_settings.master_key and budget_service.")
    try:
        return await getattr(stub, rpc)(msg, timeout=DEADLINE)
    except grpc.aio.AioRpcError as exc:
        if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
            raise GatewayError(ErrorKind.UNAVAILABLE, "budget service did not answer in time") from None
        raise from_rpc_error(exc) from None


def _limits_into(spec, body: _Limits) -> None:
    s = body.model_fields_set
    if "models" in s:
        spec.models.extend(body.models or [])
        spec.models_set = True
    if "max_budget" in s:
        if body.max_budget is None:
            spec.clear_max_budget = True
        else:
            spec.max_budget = body.max_budget
    if "budget_duration" in s:
        spec.budget_duration = body.budget_duration or ""
    for f in ("tpm_limit", "rpm_limit", "max_parallel_requests"):
        if f in s:
            v = getattr(body, f)
            setattr(spec, f, -1 if v is None else v)
    if "metadata" in s:
        spec.metadata.update(body.metadata or {})
        spec.metadata_set = True


def _key_spec(body: KeyBody) -> budget_pb2.KeySpec:
    spec = budget_pb2.KeySpec()
    _limits_into(spec, body)
    s = body.model_fields_set
    for f in ("key_alias", "team_id", "user_id", "duration"):
        if f in s:
            setattr(spec, f, getattr(body, f) or "")
    if "blocked" in s and body.blocked is not None:
        spec.blocked = body.blocked
    if "aliases" in s:
        spec.aliases.update(body.aliases or {})
        spec.aliases_set = True
    return spec


def _entity_spec(body: _Limits, alias: str | None, alias_set: bool) -> budget_pb2.EntitySpec:
    spec = budget_pb2.EntitySpec()
    _limits_into(spec, body)
    if alias_set:
        spec.alias = alias or ""
    return spec


def _dict(msg) -> dict:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def _key_json(info: budget_pb2.KeyInfo) -> dict:
    d = _dict(info)
    d.setdefault("max_budget", None)
    for f in ("tpm_limit", "rpm_limit", "max_parallel_requests"):
        d[f] = int(d[f]) if f in d else None
    for f in ("key_alias", "team_id", "user_id", "expires", "budget_duration", "budget_reset_at"):
        d[f] = d.get(f) or None
    return d


def _entity_json(info: budget_pb2.EntityInfo, kind: str) -> dict:
    d = _dict(info)
    d.pop("keys", None)
    d[f"{kind}_id"] = d.pop("id")
    alias = d.pop("alias") or None
    d["team_alias" if kind == "team" else "user_email"] = alias
    d.setdefault("max_budget", None)
    for f in ("tpm_limit", "rpm_limit", "max_parallel_requests"):
        d[f] = int(d[f]) if f in d else None
    d["budget_duration"] = d.get("budget_duration") or None
    return d


def _generated(resp: budget_pb2.GenerateKeyResponse) -> dict:
    return {**_key_json(resp.info), "key": resp.key}


# ---------------- keys ----------------
@router.post("/key/generate", openapi_extra=docs.body_doc(KeyBody, required=False), responses=docs.ERRORS)
async def key_generate(request: Request):
    body = await _body(request, KeyBody)
    resp = await _call(request, "GenerateKey", budget_pb2.GenerateKeyRequest(
        api_key=caller_key(request) or "", spec=_key_spec(body), key=body.key or ""))
    return _generated(resp)


@router.get("/key/info", responses=docs.ERRORS)
async def key_info(request: Request, key: str | None = None):
    resp = await _call(request, "KeyInfo", budget_pb2.KeyRef(api_key=caller_key(request) or "", key=key or ""))
    return {"key": key or resp.info.token, "info": _key_json(resp.info)}


@router.post("/key/update", openapi_extra=docs.body_doc(KeyBody, required=True), responses=docs.ERRORS)
async def key_update(request: Request):
    body = await _body(request, KeyBody)
    if not body.key:
        raise invalid("key is required", param="key")
    resp = await _call(request, "UpdateKey", budget_pb2.UpdateKeyRequest(
        api_key=caller_key(request) or "", key=body.key, spec=_key_spec(body)))
    return _key_json(resp.info)


@router.post("/key/delete", openapi_extra=docs.body_doc(KeysBody, required=True), responses=docs.ERRORS)
async def key_delete(request: Request):
    body = await _body(request, KeysBody)
    keys = list(body.keys or [])
    if body.key_aliases:
        listed = await _call(request, "ListKeys", budget_pb2.ListKeysRequest(api_key=caller_key(request) or ""))
        keys += [k.token for k in listed.keys if k.key_alias in body.key_aliases]
    if not keys:
        raise invalid("keys: give at least one key", param="keys")
    resp = await _call(request, "DeleteKeys", budget_pb2.DeleteKeysRequest(api_key=caller_key(request) or "", keys=keys))
    return {"deleted_keys": list(resp.deleted_keys)}


@router.get("/key/list", responses=docs.ERRORS)
async def key_list(request: Request, team_id: str | None = None, user_id: str | None = None,
                   key_alias: str | None = None, return_full_object: bool = False, page: int = 1, size: int = 10):
    """LiteLLM's paging: `page` (1-based) and `size` (default 10, at most 100)."""
    if not 1 <= page <= 1_000_000:
        raise invalid("page must be between 1 and 1000000", param="page")
    if not 1 <= size <= 100:
        raise invalid("size must be between 1 and 100", param="size")
    resp = await _call(request, "ListKeys", budget_pb2.ListKeysRequest(
        api_key=caller_key(request) or "", team_id=team_id or "", user_id=user_id or ""))
    listed = [k for k in resp.keys if key_alias is None or k.key_alias == key_alias]
    chunk = listed[(page - 1) * size: page * size]
    keys = [_key_json(k) if return_full_object else k.token for k in chunk]
    return {"keys": keys, "total_count": len(listed), "current_page": page,
            "total_pages": max(1, -(-len(listed) // size))}


@router.post("/key/regenerate", openapi_extra=docs.body_doc(KeyRefBody, required=True), responses=docs.ERRORS)
@router.post("/key/{key}/regenerate", responses=docs.ERRORS)
async def key_regenerate(request: Request, key: str | None = None):
    if key is None:
        key = (await _body(request, KeyRefBody)).key
    resp = await _call(request, "RegenerateKey", budget_pb2.KeyRef(api_key=caller_key(request) or "", key=key))
    return _generated(resp)


@router.post("/key/block", openapi_extra=docs.body_doc(KeyRefBody, required=True), responses=docs.ERRORS)
async def key_block(request: Request):
    body = await _body(request, KeyRefBody)
    resp = await _call(request, "BlockKey", budget_pb2.KeyRef(api_key=caller_key(request) or "", key=body.key))
    return _key_json(resp.info)


@router.post("/key/unblock", openapi_extra=docs.body_doc(KeyRefBody, required=True), responses=docs.ERRORS)
async def key_unblock(request: Request):
    body = await _body(request, KeyRefBody)
    resp = await _call(request, "UnblockKey", budget_pb2.KeyRef(api_key=caller_key(request) or "", key=body.key))
    return _key_json(resp.info)


# ---------------- teams / users ----------------
def _team_response(resp: budget_pb2.EntityInfoResponse) -> dict:
    return {**_entity_json(resp.info, "team"), "keys": [_key_json(k) for k in resp.info.keys]}


@router.post("/team/new", openapi_extra=docs.body_doc(TeamBody, required=False), responses=docs.ERRORS)
async def team_new(request: Request):
    body = await _body(request, TeamBody)
    spec = _entity_spec(body, body.team_alias, "team_alias" in body.model_fields_set)
    resp = await _call(request, "NewTeam", budget_pb2.TeamRequest(api_key=caller_key(request) or "", id=body.team_id or "", spec=spec))
    return _team_response(resp)


@router.get("/team/info", responses=docs.ERRORS)
async def team_info(request: Request, team_id: str = ""):
    resp = await _call(request, "TeamInfo", budget_pb2.EntityRef(api_key=caller_key(request) or "", id=team_id))
    return {"team_id": resp.info.id, "team_info": _entity_json(resp.info, "team"),
            "keys": [_key_json(k) for k in resp.info.keys]}


@router.post("/team/update", openapi_extra=docs.body_doc(TeamBody, required=True), responses=docs.ERRORS)
async def team_update(request: Request):
    body = await _body(request, TeamBody)
    if not body.team_id:
        raise invalid("team_id is required", param="team_id")
    spec = _entity_spec(body, body.team_alias, "team_alias" in body.model_fields_set)
    resp = await _call(request, "UpdateTeam", budget_pb2.TeamRequest(api_key=caller_key(request) or "", id=body.team_id, spec=spec))
    return _team_response(resp)


@router.post("/user/new", openapi_extra=docs.body_doc(UserBody, required=False), responses=docs.ERRORS)
async def user_new(request: Request):
    body = await _body(request, UserBody)
    alias = body.user_email or body.user_alias
    spec = _entity_spec(body, alias, bool({"user_email", "user_alias"} & body.model_fields_set))
    resp = await _call(request, "NewUser", budget_pb2.TeamRequest(api_key=caller_key(request) or "", id=body.user_id or "", spec=spec))
    return _entity_json(resp.info, "user")


@router.get("/user/info", responses=docs.ERRORS)
async def user_info(request: Request, user_id: str = ""):
    resp = await _call(request, "UserInfo", budget_pb2.EntityRef(api_key=caller_key(request) or "", id=user_id))
    return {"user_id": resp.info.id, "user_info": _entity_json(resp.info, "user"),
            "keys": [_key_json(k) for k in resp.info.keys]}


# ---------------- spend ----------------
async def _spend(request: Request, view: str) -> budget_pb2.SpendResponse:
    return await _call(request, "Spend", budget_pb2.SpendRequest(api_key=caller_key(request) or "", view=view))


def _opt_budget(row: budget_pb2.SpendRow) -> float | None:
    return row.max_budget if row.HasField("max_budget") else None


@router.get("/spend/keys", responses=docs.ERRORS)
async def spend_keys(request: Request):
    resp = await _spend(request, "keys")
    return [{"token": r.token, "key_name": r.name, "key_alias": r.key_alias or None, "spend": r.spend,
             "max_budget": _opt_budget(r), "user_id": r.user_id or None, "team_id": r.team_id or None}
            for r in resp.rows]


@router.get("/spend/users", responses=docs.ERRORS)
async def spend_users(request: Request):
    resp = await _spend(request, "users")
    return [{"user_id": r.name, "spend": r.spend, "max_budget": _opt_budget(r)} for r in resp.rows]


@router.get("/global/spend", responses=docs.ERRORS)
async def global_spend(request: Request):
    resp = await _spend(request, "global")
    return {"spend": resp.total_spend, "max_budget": None}


@router.get("/global/spend/models", responses=docs.ERRORS)
async def global_spend_models(request: Request):
    resp = await _spend(request, "models")
    return [{"model": r.name, "total_spend": r.spend} for r in resp.rows]


@router.get("/global/spend/keys", responses=docs.ERRORS)
async def global_spend_keys(request: Request):
    resp = await _spend(request, "keys")
    return [{"api_key": r.token, "key_name": r.name, "key_alias": r.key_alias or None, "total_spend": r.spend}
            for r in resp.rows]
