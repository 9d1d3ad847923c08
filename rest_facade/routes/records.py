"""LiteLLM-shaped spend-log, spend-report and list routes (served by budget_service's RecordService).

/spend/logs and /global/spend/report need general_settings.database_url (else 400 `no_database`, as
LiteLLM answers without a database); /team/list, /v2/team/list and /user/list work either way.
Dates are `YYYY-MM-DD` (UTC) or ISO-8601 date-times; an end date is inclusive (the whole day).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import grpc
from fastapi import APIRouter, Request

from gemgate.errors import ErrorKind, GatewayError, invalid
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import records_pb2
from rest_facade.auth import caller_key
from rest_facade.routes.management import _dict, _entity_json

router = APIRouter()
DEADLINE = 10.0


async def _call(request: Request, rpc: str, msg):
    stub = getattr(request.app.state, "records", None)
    if stub is None:
        raise GatewayError(ErrorKind.PERMISSION, "Key management needs general_settings.master_key and budget_service.")
    try:
        return await getattr(stub, rpc)(msg, timeout=DEADLINE)
    except grpc.aio.AioRpcError as exc:
        if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
            raise GatewayError(ErrorKind.UNAVAILABLE, "budget service did not answer in time") from None
        raise from_rpc_error(exc) from None


def parse_day(value: str | None, param: str, *, end: bool = False) -> float:
    """`YYYY-MM-DD` -> start of that UTC day (end=True: start of the next day); ISO date-times as given."""
    if not value:
        return 0.0
    v = value.strip()
    try:
        if len(v) == 10:
            d = date.fromisoformat(v)
            dt = datetime(d.year, d.month, d.day, tzinfo=timezone.utc) + (timedelta(days=1) if end else timedelta())
        else:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    except (ValueError, OverflowError):
        raise invalid(f"{param}: {value[:40]!r} is not a date (YYYY-MM-DD)", param=param) from None


MAX_PAGE = 1_000_000


def check_page(page: int, page_size: int, size_param: str = "page_size", max_size: int = 1000) -> None:
    if not 1 <= page <= MAX_PAGE:
        raise invalid(f"page must be between 1 and {MAX_PAGE}", param="page")
    if not 1 <= page_size <= max_size:
        raise invalid(f"{size_param} must be between 1 and {max_size}", param=size_param)


def _iso(ts: float) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z") if ts else None


def _usd(micros: int) -> float:
    return micros / 1_000_000


def log_json(e) -> dict:
    """One spend-log row in LiteLLM's LiteLLM_SpendLogs shape (+ gemgate's extra token/charge fields)."""
    meta = _dict(e.metadata) if e.HasField("metadata") else {}
    return {
        "request_id": e.request_id, "call_type": e.call_type, "api_key": e.api_key, "spend": _usd(e.spend_micros),
        "total_tokens": e.total_tokens, "prompt_tokens": e.prompt_tokens, "completion_tokens": e.completion_tokens,
        "startTime": _iso(e.start_time), "endTime": _iso(e.end_time), "model": e.model, "model_id": e.model_id,
        "model_group": e.model_group, "custom_llm_provider": e.custom_llm_provider, "user": e.user_id or None,
        "team_id": e.team_id or None, "end_user": e.end_user or None, "metadata": {
            **meta, "user_api_key_alias": e.key_alias or None, "cached_tokens": e.cached_tokens,
            "reasoning_tokens": e.reasoning_tokens, "charge": e.charge, "charged_at": _iso(e.charged_at)},
        "request_tags": list(e.request_tags), "status": e.status,
        "cache_hit": "True" if meta.get("cache_hit") else "False",
    }


@router.get("/spend/logs")
async def spend_logs(request: Request, api_key: str | None = None, user_id: str | None = None,
                     team_id: str | None = None, request_id: str | None = None, start_date: str | None = None,
                     end_date: str | None = None, summarize: bool = True, page: int = 1, page_size: int = 100):
    check_page(page, page_size)
    start, end = parse_day(start_date, "start_date"), parse_day(end_date, "end_date", end=True)
    if start and end and summarize:
        return await _summary(request, start, end, api_key=api_key, user_id=user_id)
    resp = await _call(request, "SpendLogs", records_pb2.SpendLogsRequest(
        api_key=caller_key(request) or "", key=api_key or "", user_id=user_id or "", team_id=team_id or "",
        request_id=request_id or "", start=start, end=end, page=page, page_size=page_size))
    return [log_json(r) for r in resp.rows]


async def _summary(request: Request, start: float, end: float, *, api_key: str | None, user_id: str | None) -> list:
    """LiteLLM's summarized /spend/logs: per day, total spend, spend per user, per model, per key hash."""
    resp = await _call(request, "SpendReport", records_pb2.SpendReportRequest(
        api_key=caller_key(request) or "", start=start, end=end, group_by="user"))
    want_key = _key_hash(api_key) if api_key else None
    days: dict[str, dict] = {}
    for r in resp.rows:
        if (want_key and r.api_key != want_key) or (user_id and r.group != user_id):
            continue
        d = days.setdefault(r.day, {"startTime": r.day, "spend": 0.0, "users": {}, "models": {}})
        s = _usd(r.spend_micros)
        d["spend"] += s
        d["users"][r.group or None] = d["users"].get(r.group or None, 0.0) + s
        d["models"][r.model] = d["models"].get(r.model, 0.0) + s
        if r.api_key:
            d[r.api_key] = d.get(r.api_key, 0.0) + s
    day = datetime.fromtimestamp(start, timezone.utc).date()
    last = datetime.fromtimestamp(end - 1, timezone.utc).date()
    out = []
    while day <= last:  # every day of the range, zero when nothing was spent
        out.append(days.get(day.isoformat(), {"startTime": day.isoformat(), "spend": 0.0, "users": {}, "models": {}}))
        day += timedelta(days=1)
    return out


def _key_hash(key: str) -> str:
    from budget_service.keys import hash_key, is_hash

    return key if is_hash(key) else hash_key(key)


_GROUPS = {"team": ("teams", "team_name"), "customer": ("customers", "customer"), "user": ("users", "user_id"),
           "model": ("models", "model")}


@router.get("/global/spend/report")
async def global_spend_report(request: Request, start_date: str | None = None, end_date: str | None = None,
                              group_by: str = "team", api_key: str | None = None,
                              internal_user_id: str | None = None):
    if not start_date or not end_date:
        raise invalid("Please provide start_date and end_date", param="start_date" if not start_date else "end_date")
    start, end = parse_day(start_date, "start_date"), parse_day(end_date, "end_date", end=True)
    if group_by not in (*_GROUPS, "api_key"):
        raise invalid("group_by must be one of team, customer, api_key, user, model", param="group_by")
    by_key = api_key is not None or internal_user_id is not None or group_by == "api_key"
    rpc_group = "user" if internal_user_id is not None else ("key" if by_key else group_by)
    resp = await _call(request, "SpendReport", records_pb2.SpendReportRequest(
        api_key=caller_key(request) or "", start=start, end=end, group_by=rpc_group))
    rows = list(resp.rows)
    if by_key:
        if api_key:
            rows = [r for r in rows if r.api_key == _key_hash(api_key)]
        if internal_user_id is not None:
            rows = [r for r in rows if r.group == internal_user_id]
        return _by_api_key(rows)
    plural, name = _GROUPS[group_by]
    days: dict[str, dict[str, dict]] = {}
    for r in rows:
        g = days.setdefault(r.day, {}).setdefault(r.group, {
            name: (r.group or "Unassigned Team") if group_by == "team" else (r.group or None),
            **({"team_id": r.group or None} if group_by == "team" else {}), "total_spend": 0.0, "metadata": []})
        g["total_spend"] += _usd(r.spend_micros)
        g["metadata"].append({"model": r.model, "api_key": r.api_key, "spend": _usd(r.spend_micros),
                              "total_tokens": r.total_tokens})
    return [{"group_by_day": day, plural: list(groups.values())} for day, groups in sorted(days.items())]


def _by_api_key(rows) -> list[dict]:
    keys: dict[str, dict] = {}
    for r in rows:
        k = keys.setdefault(r.api_key, {"api_key": r.api_key, "total_cost": 0.0, "total_input_tokens": 0,
                                         "total_output_tokens": 0, "model_details": {}})
        k["total_cost"] += _usd(r.spend_micros)
        k["total_input_tokens"] += r.prompt_tokens
        k["total_output_tokens"] += r.completion_tokens
        m = k["model_details"].setdefault(r.model, {"model": r.model, "total_cost": 0.0, "total_input_tokens": 0,
                                                    "total_output_tokens": 0})
        m["total_cost"] += _usd(r.spend_micros)
        m["total_input_tokens"] += r.prompt_tokens
        m["total_output_tokens"] += r.completion_tokens
    out = [{**k, "model_details": list(k["model_details"].values())} for k in keys.values()]
    return sorted(out, key=lambda k: -k["total_cost"])


# ---------------- teams / users, paged ----------------
async def _entities(request: Request, kind: str, page: int, page_size: int):
    check_page(page, page_size)
    return await _call(request, "ListEntities", records_pb2.ListEntitiesRequest(
        api_key=caller_key(request) or "", kind=kind, page=page, page_size=page_size))


def _pages(total: int, size: int) -> int:
    return max(1, math.ceil(total / size)) if size else 1


@router.get("/team/list")
async def team_list(request: Request, page: int = 1, page_size: int = 1000):
    resp = await _entities(request, "team", page, page_size)
    return [_entity_json(t, "team") for t in resp.items]


@router.get("/v2/team/list")
async def team_list_v2(request: Request, page: int = 1, page_size: int = 10):
    resp = await _entities(request, "team", page, page_size)
    return {"teams": [_entity_json(t, "team") for t in resp.items], "total": resp.total, "page": page,
            "page_size": page_size, "total_pages": _pages(resp.total, page_size)}


@router.get("/user/list")
async def user_list(request: Request, page: int = 1, page_size: int = 25):
    resp = await _entities(request, "user", page, page_size)
    return {"users": [_entity_json(u, "user") for u in resp.items], "total": resp.total, "page": page,
            "page_size": page_size, "total_pages": _pages(resp.total, page_size)}
