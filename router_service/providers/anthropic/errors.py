"""Claude-on-Vertex error bodies (Anthropic shape, or Google's envelope from the Vertex front end)
-> GatewayError. Decisions use the error `type`/HTTP status; the single exception is Anthropic's
"prompt is too long" invalid_request_error, which has no distinct type and must become
CONTEXT_LENGTH_EXCEEDED so context-window fallbacks work."""

from __future__ import annotations

import json
from typing import Any

from gemgate.errors import ErrorKind, GatewayError

_TYPE_KIND = {
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "request_too_large": ErrorKind.INVALID_REQUEST,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "permission_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.MODEL_NOT_FOUND,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "api_error": ErrorKind.UPSTREAM_ERROR,
    "overloaded_error": ErrorKind.UNAVAILABLE,
    "timeout_error": ErrorKind.UPSTREAM_TIMEOUT,
}
_STATUS_KIND = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    403: ErrorKind.PERMISSION,
    404: ErrorKind.MODEL_NOT_FOUND,
    408: ErrorKind.REQUEST_TIMEOUT,
    413: ErrorKind.INVALID_REQUEST,
    429: ErrorKind.RATE_LIMIT,
    500: ErrorKind.UPSTREAM_ERROR,
    502: ErrorKind.BAD_GATEWAY,
    503: ErrorKind.UNAVAILABLE,
    504: ErrorKind.UPSTREAM_TIMEOUT,
    529: ErrorKind.UNAVAILABLE,
}


def _parse(body: Any) -> Any:
    if isinstance(body, (bytes, bytearray, str)):
        try:
            return json.loads(body)
        except ValueError:
            return {}
    return body


def _retry_delay(details: Any) -> float | None:
    for d in details if isinstance(details, list) else []:
        delay = d.get("retryDelay") if isinstance(d, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None


def error_from_claude(status: int, body: Any) -> GatewayError:
    body = _parse(body)
    if isinstance(body, list) and body:
        body = body[0]
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        kind = _STATUS_KIND.get(status, ErrorKind.UPSTREAM_ERROR if status >= 500 else ErrorKind.INVALID_REQUEST)
        return GatewayError(kind, f"Claude: upstream returned HTTP {status}", upstream_status=status)
    message = str(err.get("message") or f"upstream returned HTTP {status}")
    etype = err.get("type")
    if isinstance(etype, str) and etype in _TYPE_KIND:  # Anthropic shape
        kind = _TYPE_KIND[etype]
        if kind is ErrorKind.INVALID_REQUEST and message.lower().startswith("prompt is too long"):
            kind = ErrorKind.CONTEXT_LENGTH_EXCEEDED
        return GatewayError(kind, f"Claude: {message}", upstream_status=status)
    code = err.get("code") if isinstance(err.get("code"), int) else status  # Google envelope
    kind = _STATUS_KIND.get(code, ErrorKind.UPSTREAM_ERROR if code >= 500 else ErrorKind.INVALID_REQUEST)
    return GatewayError(
        kind, f"Claude: {message}", upstream_status=code, retry_after=_retry_delay(err.get("details"))
    )
