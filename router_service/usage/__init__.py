"""Usage tracking: one `UsageRecord` per request, delivered off the request path by `UsageDispatcher`
to the sinks configured in litellm_settings (langsmith, otel, generic_api, jsonl)."""

from router_service.usage.dispatcher import DispatcherSettings, UsageDispatcher
from router_service.usage.factory import build_dispatcher
from router_service.usage.record import UsageRecord, key_hash_prefix, new_record, scrub
from router_service.usage.tracking import mark_first_token, track

__all__ = ["DispatcherSettings", "UsageDispatcher", "UsageRecord", "build_dispatcher", "key_hash_prefix",
           "mark_first_token", "new_record", "scrub", "track"]
