import json

from gemgate.errors import ErrorKind
from router_service.providers.gemini.translate import error_from_gemini


def _env(code, msg, status="X", details=None):
    return {"error": {"code": code, "message": msg, "status": status, "details": details or []}}


def test_status_mapping():
    assert error_from_gemini(404, _env(404, "models/x is not found")).kind is ErrorKind.MODEL_NOT_FOUND
    assert error_from_gemini(403, _env(403, "denied")).kind is ErrorKind.PERMISSION
    assert error_from_gemini(500, _env(500, "boom")).kind is ErrorKind.UPSTREAM_ERROR
    assert error_from_gemini(503, _env(503, "busy")).kind is ErrorKind.UNAVAILABLE
    assert error_from_gemini(504, _env(504, "slow")).kind is ErrorKind.UPSTREAM_TIMEOUT
    assert error_from_gemini(400, _env(400, "bad")).kind is ErrorKind.INVALID_REQUEST


def test_array_wrapped_bytes_body():
    body = json.dumps([_env(429, "quota", "RESOURCE_EXHAUSTED",
                            [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "41s"}])]).encode()
    err = error_from_gemini(429, body)
    assert err.kind is ErrorKind.RATE_LIMIT and err.retry_after == 41.0 and "quota" in err.message


def test_fractional_retry_delay():
    body = _env(429, "q", details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}])
    assert error_from_gemini(429, body).retry_after == 1.5


def test_api_key_invalid_is_authentication():
    body = _env(400, "API key not valid.", "INVALID_ARGUMENT",
                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}])
    assert error_from_gemini(400, body).kind is ErrorKind.AUTHENTICATION


def test_context_too_long():
    body = _env(400, "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).")
    err = error_from_gemini(400, body)
    assert err.kind is ErrorKind.CONTEXT_LENGTH_EXCEEDED and err.code == "context_length_exceeded"


def test_garbage_body():
    err = error_from_gemini(502, b"<html>bad gateway</html>")
    assert err.kind is ErrorKind.BAD_GATEWAY and err.upstream_status == 502
