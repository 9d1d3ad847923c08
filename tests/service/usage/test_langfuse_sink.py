"""The langfuse callback against a real local HTTP receiver: Langfuse's ingestion API shape, Basic
auth, idempotent ids, no message text, 207 per-event errors counted as failures."""

from __future__ import annotations

import base64
import uuid

import pytest

from router_service.usage import build_dispatcher
from tests.service.usage.test_sinks_real_receiver import FAST, _config, _rec


async def test_langfuse_ingestion_batch(receiver):
    env = {"LANGFUSE_PUBLIC_KEY": "pk-lf-1", "LANGFUSE_SECRET_KEY": "sk-lf-secret", "LANGFUSE_HOST": receiver.url}
    d = build_dispatcher(_config(success_callback=["langfuse"], failure_callback=["langfuse"]), env, settings=FAST)
    d.record(_rec(1))
    d.record(_rec(2, status="failure", error_type="RATE_LIMIT", error_message="slow down"))
    await d.aclose()
    reqs = await receiver.wait_for(1)
    assert {r.path for r in reqs} == {"/api/public/ingestion"}
    assert reqs[0].headers["authorization"] == "Basic " + base64.b64encode(b"pk-lf-1:sk-lf-secret").decode()
    events = [e for r in reqs for e in r.json()["batch"]]
    assert [e["type"] for e in events] == ["trace-create", "generation-create"] * 2
    ok_trace, ok_gen, bad_trace, bad_gen = (e["body"] for e in events)
    assert ok_gen["traceId"] == ok_trace["id"] and uuid.UUID(ok_gen["id"])
    assert ok_gen["model"] == "gemini-2.5-flash" and ok_gen["startTime"].startswith("2023-11-14T22:13:20.25")
    assert ok_gen["usage"] == {"input": 11, "output": 7, "total": 18, "unit": "TOKENS"}
    assert ok_gen["costDetails"] == {"total": pytest.approx(0.000123)}
    assert ok_gen["completionStartTime"].startswith("2023-11-14T22:13:20.5")
    assert ok_gen["metadata"]["key_hash_prefix"] == "abcdef012345" and ok_gen["level"] == "DEFAULT"
    assert bad_gen["level"] == "ERROR" and bad_gen["statusMessage"] == "RATE_LIMIT: slow down"
    assert "messages" not in str(events) and "sk-lf-secret" not in str(events)
    assert d.stats["langfuse"] == {"delivered": 2, "failed": 0, "dropped": 0}
    # the same request id gives the same ids (a retried batch upserts)
    from router_service.usage.callbacks.langfuse import to_events

    assert to_events(_rec(1))[1]["body"]["id"] == ok_gen["id"]


async def test_langfuse_non_2xx_is_a_counted_failure(receiver):
    receiver.status = 401
    env = {"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk", "LANGFUSE_HOST": receiver.url}
    d = build_dispatcher(_config(callbacks=["langfuse"]), env, settings=FAST)
    d.record(_rec(5))
    await d.aclose()
    await receiver.wait_for(1)
    assert d.stats["langfuse"]["failed"] == 1
