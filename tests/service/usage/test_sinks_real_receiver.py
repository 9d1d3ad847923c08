"""Each HTTP sink against a real local receiver, wired through build_dispatcher like production."""

import json
import re
import uuid

import pytest

from gemgate.config import parse_config
from router_service.usage import build_dispatcher
from router_service.usage.dispatcher import DispatcherSettings
from router_service.usage.record import UsageRecord

FAST = DispatcherSettings(batch_size=10, flush_interval=0.05, sink_timeout=2.0, max_retries=0)


def _rec(i: int = 0, **kw) -> UsageRecord:
    base = dict(
        request_id=f"req-{i}", model_group="gemini-flash", deployment_id="flash-0", provider="gemini",
        model="gemini-2.5-flash", stream=True, start_time=1_700_000_000.25, first_token_time=1_700_000_000.5,
        end_time=1_700_000_001.75, prompt_tokens=11, completion_tokens=7, cached_tokens=3, reasoning_tokens=2,
        response_cost=0.000123, key_alias="team-a-key", key_hash_prefix="abcdef012345", team_id="team-a",
        user_id="u1", response_id="chatcmpl-1", finish_reasons=["stop"], max_tokens=256, temperature=0.5,
    )
    base.update(kw)
    return UsageRecord(**base)


def _config(**ls):
    return parse_config({"litellm_settings": ls}, environ={})


async def test_langsmith_batch_format(receiver):
    env = {"LANGSMITH_API_KEY": "ls-secret-key", "LANGSMITH_PROJECT": "proj-x", "LANGSMITH_BASE_URL": receiver.url}
    d = build_dispatcher(_config(success_callback=["langsmith"]), env, settings=FAST)
    d.record(_rec(1))
    d.record(_rec(2, status="failure"))  # not a failure sink -> not sent
    await d.aclose()
    [req] = await receiver.wait_for(1)
    assert req.path == "/runs/batch"
    assert req.headers["x-api-key"] == "ls-secret-key"
    body = req.json()
    assert body["patch"] == [] and len(body["post"]) == 1
    run = body["post"][0]
    uuid.UUID(run["id"])
    assert run["trace_id"] == run["id"]
    assert re.fullmatch(r"\d{8}T\d{6}\d{6}Z" + re.escape(run["id"]), run["dotted_order"])
    assert run["dotted_order"].startswith("20231114T221320250000Z")
    assert run["run_type"] == "llm"
    assert run["session_name"] == "proj-x"
    assert run["name"] == "gemgate/gemini-flash"
    assert run["start_time"].startswith("2023-11-14T22:13:20.25")
    assert run["end_time"].startswith("2023-11-14T22:13:21.75")
    assert run["outputs"]["usage_metadata"] == {
        "input_tokens": 11, "output_tokens": 7, "total_tokens": 18,
        "input_token_details": {"cache_read": 3}, "output_token_details": {"reasoning": 2}}
    md = run["extra"]["metadata"]
    assert md["ls_provider"] == "gemini" and md["key_hash_prefix"] == "abcdef012345"
    assert md["response_cost"] == pytest.approx(0.000123)
    assert "error" not in run
    assert d.stats["langsmith"] == {"delivered": 1, "failed": 0, "dropped": 0}


async def test_langsmith_failure_run_has_error(receiver):
    env = {"LANGSMITH_API_KEY": "k", "LANGSMITH_BASE_URL": receiver.url}
    d = build_dispatcher(_config(failure_callback=["langsmith"]), env, settings=FAST)
    d.record(_rec(3, status="failure", error_type="RATE_LIMIT", error_message="slow down"))
    await d.aclose()
    run = (await receiver.wait_for(1))[0].json()["post"][0]
    assert run["error"] == "RATE_LIMIT: slow down"
    assert run["session_name"] == "default"


async def test_otel_spans_genai_attributes(receiver):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=t1,authorization=Bearer%20abc"}
    d = build_dispatcher(_config(callbacks=["opentelemetry"]), env, settings=FAST)
    d.record(_rec(1))
    d.record(_rec(2, status="failure", error_type="UPSTREAM_TIMEOUT", error_message="upstream timed out",
                  prompt_tokens=0, completion_tokens=0, first_token_time=None))
    await d.aclose()
    reqs = await receiver.wait_for(1)
    assert reqs[0].path == "/v1/traces"
    assert reqs[0].headers["x-tenant"] == "t1"
    assert reqs[0].headers["authorization"] == "Bearer abc"
    assert reqs[0].headers["content-type"].startswith("application/json")
    spans = [s for r in reqs for rs in r.json()["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    res = reqs[0].json()["resourceSpans"][0]["resource"]["attributes"]
    assert {"key": "service.name", "value": {"stringValue": "gemgate"}} in res
    assert len(spans) == 2
    ok, bad = sorted(spans, key=lambda s: s["status"]["code"])
    for s in spans:
        assert re.fullmatch(r"[0-9a-f]{32}", s["traceId"]) and s["traceId"] != "0" * 32
        assert re.fullmatch(r"[0-9a-f]{16}", s["spanId"])
        assert s["kind"] == 3
    assert ok["startTimeUnixNano"] == "1700000000250000000"
    assert ok["endTimeUnixNano"] == "1700000001750000000"
    assert ok["events"][0]["timeUnixNano"] == "1700000000500000000"
    attrs = {a["key"]: a["value"] for a in ok["attributes"]}
    assert attrs["gen_ai.operation.name"] == {"stringValue": "chat"}
    assert attrs["gen_ai.provider.name"] == {"stringValue": "gcp.gemini"}
    assert attrs["gen_ai.system"] == {"stringValue": "gcp.gemini"}
    assert attrs["gen_ai.request.model"] == {"stringValue": "gemini-flash"}
    assert attrs["gen_ai.response.model"] == {"stringValue": "gemini-2.5-flash"}
    assert attrs["gen_ai.response.id"] == {"stringValue": "chatcmpl-1"}
    assert attrs["gen_ai.usage.input_tokens"] == {"intValue": "11"}
    assert attrs["gen_ai.usage.output_tokens"] == {"intValue": "7"}
    assert attrs["gen_ai.request.max_tokens"] == {"intValue": "256"}
    assert attrs["gen_ai.request.temperature"] == {"doubleValue": 0.5}
    assert attrs["gen_ai.response.finish_reasons"] == {"arrayValue": {"values": [{"stringValue": "stop"}]}}
    assert ok["status"] == {"code": 1}
    assert bad["status"] == {"code": 2, "message": "upstream timed out"}
    bad_attrs = {a["key"]: a["value"] for a in bad["attributes"]}
    assert bad_attrs["error.type"] == {"stringValue": "UPSTREAM_TIMEOUT"}
    assert bad_attrs["gen_ai.usage.input_tokens"] == {"intValue": "0"}


async def test_generic_api_payload(receiver):
    env = {"GENERIC_LOGGER_ENDPOINT": receiver.url + "/hook", "GENERIC_LOGGER_HEADERS": "Authorization=Bearer t0k,X-Env=ci"}
    d = build_dispatcher(_config(callbacks=["generic"]), env, settings=FAST)
    for i in range(3):
        d.record(_rec(i))
    await d.aclose()
    reqs = await receiver.wait_for(1)
    assert reqs[0].path == "/hook"
    assert reqs[0].headers["authorization"] == "Bearer t0k" and reqs[0].headers["x-env"] == "ci"
    payloads = [p for r in reqs for p in r.json()]
    assert [p["id"] for p in payloads] == ["req-0", "req-1", "req-2"]
    p = payloads[0]
    assert p["call_type"] == "acompletion" and p["status"] == "success"
    assert p["prompt_tokens"] == 11 and p["completion_tokens"] == 7 and p["total_tokens"] == 18
    assert p["model_group"] == "gemini-flash" and p["model_id"] == "flash-0"
    assert p["startTime"] == 1_700_000_000.25 and p["completionStartTime"] == 1_700_000_000.5
    assert p["response_cost"] == pytest.approx(0.000123) and p["response_cost_micros"] == 123
    assert p["metadata"]["user_api_key_hash"] == "abcdef012345"
    assert p["metadata"]["user_api_key_alias"] == "team-a-key"


async def test_http_sink_errors_counted_not_raised(receiver):
    receiver.status = 500
    env = {"GENERIC_LOGGER_ENDPOINT": receiver.url}
    settings = DispatcherSettings(batch_size=10, flush_interval=0.05, max_retries=1, retry_backoff=0.01)
    d = build_dispatcher(_config(callbacks=["generic_api"]), env, settings=settings)
    d.record(_rec(1))
    await receiver.wait_for(2)
    await d.aclose()
    assert len(receiver.requests) == 2  # first attempt + one retry
    assert d.stats["generic_api"] == {"delivered": 0, "failed": 1, "dropped": 0}


async def test_jsonl_file_lines(tmp_path):
    path = tmp_path / "usage.jsonl"
    d = build_dispatcher(_config(success_callback=["jsonl"], failure_callback=["jsonl"]),
                         {"GEMGATE_USAGE_JSONL_PATH": str(path)}, settings=FAST)
    d.record(_rec(1))
    d.record(_rec(2, status="failure", error_type="INTERNAL"))
    await d.aclose()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["request_id"] for x in lines] == ["req-1", "req-2"]
    assert lines[0]["total_tokens"] == 18 and lines[0]["response_cost_micros"] == 123
    assert lines[1]["status"] == "failure" and lines[1]["error_type"] == "INTERNAL"


async def test_all_http_sinks_share_one_client(receiver):
    env = {"LANGSMITH_API_KEY": "k", "LANGSMITH_BASE_URL": receiver.url, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
           "GENERIC_LOGGER_ENDPOINT": receiver.url}
    d = build_dispatcher(_config(callbacks=["langsmith", "otel", "generic_api"]), env, settings=FAST)
    clients = {id(r.sink._client) for r in d._routes}
    assert len(clients) == 1
    d.record(_rec(1))
    await d.aclose()
    assert sorted(r.path for r in (await receiver.wait_for(3))) == ["/", "/runs/batch", "/v1/traces"]
