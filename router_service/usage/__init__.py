"""Usage tracking: one `UsageRecord` per request, delivered off the request path by `UsageDispatcher`
to the sinks configured in litellm_settings (langsmith, otel, generic_api, jsonl)."""

from router_service.usage.dispatcher import UsageDispatcher
from router_service.usage.factory import build_dispatcher
from router_service.usage.record import UsageRecord, key_hash_prefix, scrub

__all__ = ["UsageDispatcher", "UsageRecord", "build_dispatcher", "key_hash_prefix", "scrub"]
