import hashlib

from gemgate.errors import ErrorKind, GatewayError
from router_service.router import RouteInfo
from router_service.usage.record import UsageRecord, key_hash_prefix, new_record, scrub
from gemgate.v1 import budget_pb2


def test_key_hash_prefix_never_the_key():
    key = "sk-live-abcdef1234567890"
    p = key_hash_prefix(key)
    assert p == hashlib.sha256(key.encode()).hexdigest()[:12]
    assert len(p) == 12 and key not in p
    full = hashlib.sha256(b"x").hexdigest()
    assert key_hash_prefix(full) == full[:12]  # an existing sha256 hex is not hashed again
    assert key_hash_prefix(None) == "" and key_hash_prefix("") == ""


def test_builders_from_openai_shapes():
    r = new_record("flash", request_id="req-1", stream=True, start_time=10.0)
    r.with_request({"model": "flash", "max_completion_tokens": 64, "temperature": 0.2, "stream": True})
    r.with_route(RouteInfo("flash", "flash-1", "vertex_ai", attempts=2, fallback_used="pro"))
    ident = budget_pb2.KeyIdentity(key_hash=hashlib.sha256(b"sk-abc").hexdigest(), key_alias="ka",
                                   team_id="t", user_id="u")
    r.with_identity(ident)
    r.with_response({"id": "chatcmpl-9", "model": "gemini-2.5-flash", "choices": [{"finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14,
                               "prompt_tokens_details": {"cached_tokens": 2},
                               "completion_tokens_details": {"reasoning_tokens": 4}}})
    r.first_token_time = 10.3
    r.with_cost(micros=1235)
    assert r.response_cost == 0.001235
    r.with_cost(usd=0.0012346)
    r.finish(now=11.0)
    assert (r.prompt_tokens, r.completion_tokens, r.cached_tokens, r.reasoning_tokens) == (5, 9, 2, 4)
    assert r.total_tokens == 14 and r.response_cost_micros == 1235
    assert (r.deployment_id, r.provider, r.attempts, r.fallback_used) == ("flash-1", "vertex_ai", 2, "pro")
    assert r.key_hash_prefix == hashlib.sha256(b"sk-abc").hexdigest()[:12] and r.key_alias == "ka"
    assert r.max_tokens == 64 and r.temperature == 0.2 and r.stream
    assert r.response_id == "chatcmpl-9" and r.finish_reasons == ["stop"] and r.model == "gemini-2.5-flash"
    assert abs(r.latency - 1.0) < 1e-9 and abs(r.time_to_first_token - 0.3) < 1e-9
    d = r.to_dict()
    assert d["total_tokens"] == 14 and d["response_cost_micros"] == 1235 and d["status"] == "success"
    sp = r.to_standard_payload()
    assert sp["call_type"] == "acompletion" and sp["model_id"] == "flash-1" and sp["error_information"] is None


def test_usage_with_missing_or_null_parts():
    r = UsageRecord("r", "g").with_usage({"prompt_tokens": 3, "completion_tokens": None,
                                          "prompt_tokens_details": None})
    assert (r.prompt_tokens, r.completion_tokens, r.cached_tokens) == (3, 0, 0)
    assert UsageRecord("r", "g").with_usage(None).total_tokens == 0


def test_error_is_scrubbed():
    key = "sk-user-0123456789abcdef"
    err = GatewayError(ErrorKind.AUTHENTICATION,
                       f"bad key {key} for https://x/v1?key=AIzaSyA-very-secret-google-key-123 Bearer ya29.tok")
    r = UsageRecord("r", "g").with_error(err, secrets=(key,))
    assert r.status == "failure" and r.error_type == "AUTHENTICATION" and r.error_code == "invalid_api_key"
    assert key not in r.error_message and "AIza" not in r.error_message and "ya29" not in r.error_message
    assert "[REDACTED]" in r.error_message
    r2 = UsageRecord("r", "g").with_error(ValueError("oops sk-abcdefghij"))
    assert r2.error_type == "ValueError" and r2.error_code == "internal_error" and "sk-abcdefghij" not in r2.error_message


def test_scrub_truncates_and_handles_empty():
    assert scrub(None) == "" and len(scrub("x" * 5000)) == 1000
    assert scrub("known secret-value here", ("secret-value",)) == "known [REDACTED] here"
