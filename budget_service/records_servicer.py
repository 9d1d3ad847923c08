"""RecordService gRPC servicer: spend logs and reports from the system of record, paged lists.

Transport only: validation of paging/filters and the master-key check happen here, queries live in
the record store (budget_service/record).
"""

from __future__ import annotations

from budget_service import convert
from budget_service.keys import hash_key, is_hash
from budget_service.ledger import Ledger
from budget_service.record.base import RecordStore
from budget_service.servicer import _rpc
from budget_service.spendlog import row_to_entry
from gemgate.errors import invalid
from gemgate.v1 import records_pb2, records_pb2_grpc

MAX_PAGE_SIZE = 1000
MAX_RANGE_DAYS = 366


def no_database() -> Exception:
    return invalid("This endpoint needs a database: set general_settings.database_url (or DATABASE_URL).",
                   code="no_database")


def paging(page: int, page_size: int, default: int = 50) -> tuple[int, int]:
    page = page or 1
    size = page_size or default
    if page < 1:
        raise invalid("page must be >= 1", param="page")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise invalid(f"page_size must be between 1 and {MAX_PAGE_SIZE}", param="page_size")
    return page, size


class RecordServicer(records_pb2_grpc.RecordServiceServicer):
    def __init__(self, ledger: Ledger, record: RecordStore | None) -> None:
        self.ledger = ledger
        self.record = record

    @_rpc
    async def SpendLogs(self, request):
        await self.ledger.require_master(request.api_key)
        if self.record is None:
            raise no_database()
        page, size = paging(request.page, request.page_size, 100)
        filters = {}
        if request.key:
            filters["api_key"] = request.key if is_hash(request.key) else hash_key(request.key)
        for f in ("user_id", "team_id", "request_id"):
            if getattr(request, f):
                filters[f] = getattr(request, f)
        if request.start and request.end and request.end <= request.start:
            raise invalid("end_date must be after start_date", param="end_date")
        rows, total = await self.record.spend_logs(filters=filters, start=request.start or None,
                                                   end=request.end or None, offset=(page - 1) * size, limit=size)
        return records_pb2.SpendLogsResponse(rows=[row_to_entry(r) for r in rows], total=total)

    @_rpc
    async def SpendReport(self, request):
        await self.ledger.require_master(request.api_key)
        if self.record is None:
            raise no_database()
        group = request.group_by or "team"
        if group not in ("team", "user", "key", "model", "customer"):
            raise invalid("group_by must be one of team, user, key, model, customer", param="group_by")
        if not request.start or not request.end:
            raise invalid("start_date and end_date are required", param="start_date")
        if request.end <= request.start:
            raise invalid("end_date must not be before start_date", param="end_date")
        if request.end - request.start > MAX_RANGE_DAYS * 86400:
            raise invalid(f"the date range may span at most {MAX_RANGE_DAYS} days", param="end_date")
        rows = await self.record.spend_report(start=request.start, end=request.end, group_by=group)
        return records_pb2.SpendReportResponse(rows=[records_pb2.SpendReportRow(
            day=r["day"], group=r["group"] or "", model=r["model"] or "", api_key=r["api_key"] or "",
            key_alias=r["key_alias"] or "", spend_micros=int(r["spend_micros"] or 0),
            prompt_tokens=int(r["prompt_tokens"] or 0), completion_tokens=int(r["completion_tokens"] or 0),
            total_tokens=int(r["total_tokens"] or 0), requests=int(r["requests"] or 0)) for r in rows])

    @_rpc
    async def ListEntities(self, request):
        await self.ledger.require_master(request.api_key)
        if request.kind not in ("team", "user"):
            raise invalid("kind must be team or user", param="kind")
        page, size = paging(request.page, request.page_size, 25)
        store = self.ledger.store
        ids = await store.ids(request.kind)
        chunk = ids[(page - 1) * size: page * size]
        docs = await store.get_docs(request.kind, chunk)
        items = []
        for d in docs:
            spend = await self.ledger.period_spend(request.kind, d["id"], d)
            items.append(convert.entity_info(d, spend=spend, reset_at=self.ledger.reset_at(d)))
        return records_pb2.ListEntitiesResponse(items=items, total=len(ids))

