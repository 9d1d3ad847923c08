"""The one call the servicer makes per request: finish the record, update metrics, dispatch it.

    rec = new_record(req["model"], request_id=request_id, call_type="chat", stream=True).with_request(req)
    ... on the first streamed chunk: mark_first_token(rec)
    finally: track(usage_dispatcher, rec.with_route(info).with_identity(identity).with_usage(usage)
                   .with_cost(micros=cost_micros), error=exc_or_None, secrets=(api_key,))
"""

from __future__ import annotations

import logging
import time

from gemgate import metrics
from router_service.usage.dispatcher import UsageDispatcher
from router_service.usage.record import UsageRecord

log = logging.getLogger(__name__)


def mark_first_token(rec: UsageRecord, now: float | None = None) -> None:
    if rec.first_token_time is None:
        rec.first_token_time = time.time() if now is None else now


def track(dispatcher: UsageDispatcher | None, rec: UsageRecord, *, error: BaseException | None = None,
          secrets: tuple[str, ...] = ()) -> None:
    """Never raises and never blocks: usage tracking must not change a request's outcome."""
    try:
        if error is not None:
            rec.with_error(error, secrets)
        if not rec.end_time:
            rec.finish()
        metrics.observe_usage_record(rec)
        if dispatcher is not None:
            dispatcher.record(rec)
    except Exception:  # noqa: BLE001
        log.exception("usage tracking failed for one request")
