"""Google error envelope -> GatewayError (the only place upstream message text is inspected:
`_is_context_too_long`)."""

from __future__ import annotations

import json
import re
from typing import Any

from gemgate.errors import ErrorKind, GatewayError

_STATUS_KIND = {
    400: ErrorKind.INVALID_REQUEST, 401: ErrorKind.AUTHENTICATION, 403: ErrorKind.PERMISSION,
    404: ErrorKind.MODEL_NOT_FOUND, 408: ErrorKind.REQUEST_TIMEOUT, 429: ErrorKind.RATE_LIMIT,
    500: ErrorKind.UPSTREAM_ERROR, 502: ErrorKind.BAD_GATEWAY, 503: ErrorKind.UNAVAILABLE,
    504: ErrorKind.UPSTREAM_TIMEOUT,
}
_AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_EXPIRED", "ACCESS_TOKEN_EXPIRED"}
_CONTEXT_RE = re.compile(r"input token count.*exceeds the maximum", re.I | re.S)


def _envelope(body: Any) -> dict:
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    if isinstance(body, list):
        body = body[0] if body else {}
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def _details(err: dict, suffix: str) -> list[dict]:
    return [d for d in err.get("details") or [] if isinstance(d, dict) and str(d.get("@type", "")).endswith(suffix)]


def _retry_after(err: dict) -> float | None:
    for d in _details(err, "RetryInfo"):
        delay = str(d.get("retryDelay", ""))
        try:
            return float(delay.rstrip("s"))
        except ValueError:
            continue
    return None


def _is_context_too_long(message: str) -> bool:
    return bool(_CONTEXT_RE.search(message))


def error_from_gemini(status: int, body: Any) -> GatewayError:
    """Google error envelope (maybe array-wrapped) + HTTP status -> GatewayError."""
    err = _envelope(body)
    code = err.get("code") if isinstance(err.get("code"), int) else status
    message = err.get("message") or f"upstream returned HTTP {status}"
    kind = _STATUS_KIND.get(code, ErrorKind.UPSTREAM_ERROR if code >= 500 else ErrorKind.INVALID_REQUEST)
    if any(d.get("reason") in _AUTH_REASONS for d in _details(err, "ErrorInfo")):
        kind = ErrorKind.AUTHENTICATION
    elif code == 400 and _is_context_too_long(message):
        kind = ErrorKind.CONTEXT_LENGTH_EXCEEDED
    return GatewayError(kind, f"Gemini: {message}", upstream_status=code, retry_after=_retry_after(err))
