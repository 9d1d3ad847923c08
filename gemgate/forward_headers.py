"""Client headers gemgate may forward upstream (general_settings.forward_client_headers_to_llm_api).

LiteLLM forwards `x-*` and `anthropic-beta` headers; gemgate never forwards credentials, its own
headers, or proxy/hop-by-hop headers. The facade sends the allowed ones to the router as gRPC
metadata `gemgate-fwd-<name>`; the router checks them again."""

from __future__ import annotations

METADATA_PREFIX = "gemgate-fwd-"
MAX_HEADERS = 32
MAX_VALUE = 1024
_NEVER = {
    "authorization", "proxy-authorization", "cookie", "host", "content-length", "content-type",
    "transfer-encoding", "connection", "x-goog-api-key", "x-litellm-api-key", "x-api-key", "api-key",
    "x-request-id", "x-forwarded-for", "x-real-ip", "x-forwarded-host", "x-forwarded-proto",
}
_SECRET_WORDS = ("auth", "key", "token", "secret", "cookie", "password", "credential", "session")


def forwardable(name: str) -> bool:
    n = name.lower()
    if n in _NEVER or n.startswith(("x-gemgate-", "x-litellm-", "x-goog-")) or any(w in n for w in _SECRET_WORDS):
        return False
    return n.startswith("x-") or n == "anthropic-beta"


def to_metadata(headers) -> list[tuple[str, str]]:
    out = []
    for name, value in headers.items():
        if forwardable(name) and len(value) <= MAX_VALUE:
            out.append((METADATA_PREFIX + name.lower(), value))
    return out[:MAX_HEADERS]


def from_metadata(metadata) -> tuple[tuple[str, str], ...]:
    out = []
    for key, value in metadata or ():
        if key.startswith(METADATA_PREFIX):
            name = key[len(METADATA_PREFIX):]
            if forwardable(name) and isinstance(value, str) and len(value) <= MAX_VALUE:
                out.append((name, value))
    return tuple(out[:MAX_HEADERS])
