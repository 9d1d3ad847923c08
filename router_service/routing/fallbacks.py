"""Which groups to try after a group's retries are exhausted (LiteLLM semantics).

CONTEXT_LENGTH_EXCEEDED -> context_window_fallbacks, else generic fallbacks;
CONTENT_POLICY -> content_policy_fallbacks, else generic fallbacks;
everything else -> fallbacks. Generic lookup: the group's entry, else a `"*"` entry, else
default_fallbacks. A per-request `fallbacks` list (group names) replaces the config lookup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gemgate.errors import ErrorKind, GatewayError

if TYPE_CHECKING:
    from gemgate.config import GatewayConfig


def _lookup(entries, group: str) -> list[str] | None:
    for entry in entries or []:
        if group in entry:
            return list(entry[group])
    for entry in entries or []:
        if "*" in entry:
            return list(entry["*"])
    return None


def fallback_groups(config: GatewayConfig, group: str, err: GatewayError,
                    request_fallbacks: list | None = None) -> list[str]:
    if request_fallbacks is not None:
        out = []
        for f in request_fallbacks:
            if isinstance(f, str):
                out.append(f)
            elif isinstance(f, dict) and f.get("model"):
                out.append(f["model"])
        return out
    special = {
        ErrorKind.CONTEXT_LENGTH_EXCEEDED: "context_window_fallbacks",
        ErrorKind.CONTENT_POLICY: "content_policy_fallbacks",
    }.get(err.kind)
    if special:
        found = _lookup(config.fallbacks(special), group)
        if found:
            return found
    found = _lookup(config.fallbacks("fallbacks"), group)
    if found is not None:
        return found
    return list(config.fallbacks("default_fallbacks") or [])
