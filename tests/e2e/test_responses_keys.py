"""Responses API under virtual keys (real Redis, real CLI): budgets, allowlists, rpm, spend, and
stored responses kept per key in Redis (a key never reads, continues or deletes another's)."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import openai
import pytest

from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import avoid_minute_boundary, start_gateway, write_config

MASTER = "sk-master-responses-test-0123456789"


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("responses-keys")
    cfg = write_config(tmp, gemini_config(fake_gemini_server.base_url, master_key=MASTER))
    gateway = start_gateway(cfg, tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def new_key(gw, **fields) -> str:
    r = httpx.post(f"{gw.base_url}/key/generate", json=fields, headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["key"]


def spend_of(gw, key) -> float:
    r = httpx.get(f"{gw.base_url}/key/info?key={key}", headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    return r.json()["info"]["spend"]


def settled(gw, key, done, timeout: float = 5.0) -> float:
    """The key's spend once background settlements satisfy `done` (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        spend = spend_of(gw, key)
        if done(spend) or time.monotonic() > deadline:
            return spend
        time.sleep(0.05)


def client_for(gw, key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=key, max_retries=0, timeout=30)


def test_needs_a_valid_key(gw, fake_gemini):
    with pytest.raises(openai.AuthenticationError):
        client_for(gw, "sk-not-a-key").responses.create(model="flash", input="x")
    with pytest.raises(openai.AuthenticationError):  # a bad key learns nothing about stored ids
        client_for(gw, "sk-not-a-key").responses.retrieve("resp_whatever")
    with pytest.raises(openai.AuthenticationError):
        client_for(gw, "sk-not-a-key").responses.create(model="flash", input="x", previous_response_id="resp_x")
    assert fake_gemini.requests == []


def test_zero_budget_and_allowlist(gw, fake_gemini):
    broke = client_for(gw, new_key(gw, max_budget=0))
    with pytest.raises(openai.RateLimitError) as exc:
        broke.responses.create(model="flash", input="x")
    assert exc.value.body["type"] == "budget_exceeded"
    with pytest.raises(openai.RateLimitError):
        with broke.responses.stream(model="flash", input="x") as stream:
            list(stream)
    only_g3 = client_for(gw, new_key(gw, models=["g3"]))
    with pytest.raises(openai.PermissionDeniedError):
        only_g3.responses.create(model="flash", input="x")
    assert fake_gemini.requests == []


def test_spend_matches_cost_headers(gw, fake_gemini):
    key = new_key(gw, max_budget=1.0)
    c = client_for(gw, key)
    raw = c.responses.with_raw_response.create(model="flash", input="pay for me")
    cost = float(raw.headers["x-gemgate-response-cost"])
    first = raw.parse()
    raw2 = c.responses.with_raw_response.create(model="flash", input="and me", previous_response_id=first.id)
    cost2 = float(raw2.headers["x-gemgate-response-cost"])
    second = raw2.parse()
    assert cost > 0 and cost2 > 0
    assert second.usage.input_tokens > first.usage.input_tokens  # the continued context is billed as prompt
    assert len(fake_gemini.requests[-1]["body"]["contents"]) == 3
    with c.responses.stream(model="flash", input="streamed") as stream:
        list(stream)
    assert settled(gw, key, lambda s: s > cost + cost2 + 1e-9) > cost + cost2


def test_small_budget_never_overspent(gw, fake_gemini):
    budget = 0.0002
    key = new_key(gw, max_budget=budget)

    def one(_):
        r = httpx.post(f"{gw.base_url}/v1/responses", json={"model": "flash", "input": "hello budget", "max_output_tokens": 10},
                       headers={"Authorization": f"Bearer {key}"}, timeout=30)
        return r.status_code, float(r.headers.get("x-gemgate-response-cost", 0) or 0), r.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(40)))
    for _ in range(100):
        results.append(one(0))
        if results[-1][0] == 429:
            break
    ok = [c for s, c, _ in results if s == 200]
    refused = [b for s, _, b in results if s == 429]
    assert ok and refused
    assert all(b["error"]["type"] == "budget_exceeded" for b in refused)
    settled(gw, key, lambda s: s >= sum(ok) - 1e-9)
    assert spend_of(gw, key) <= budget + 1e-12
    assert spend_of(gw, key) == pytest.approx(sum(ok), abs=1e-6)


def test_rpm_limit(gw, fake_gemini):
    c = client_for(gw, new_key(gw, rpm_limit=2))
    avoid_minute_boundary(5)  # rpm windows are wall-clock minutes
    c.responses.create(model="flash", input="1")
    c.responses.create(model="flash", input="2")
    with pytest.raises(openai.RateLimitError):
        c.responses.create(model="flash", input="3")


def test_stored_per_key_in_redis(gw, fake_gemini):
    import redis

    a, b = client_for(gw, new_key(gw)), client_for(gw, new_key(gw))
    master = client_for(gw, MASTER)
    resp = a.responses.create(model="flash", input="secret of a")
    keys = redis.Redis.from_url("redis://127.0.0.1:6379/0").keys(f"{gw.redis_prefix}responses:*")
    assert any(resp.id.encode() in k for k in keys)
    assert all(b"sk-" not in k for k in keys)  # keys are hashed in the store namespace
    for other in (b, master):
        with pytest.raises(openai.NotFoundError):
            other.responses.retrieve(resp.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.input_items.list(resp.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.create(model="flash", input="x", previous_response_id=resp.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.delete(resp.id)
    assert a.responses.retrieve(resp.id).output_text == "echo: secret of a"
    a.responses.delete(resp.id)
    with pytest.raises(openai.NotFoundError):
        a.responses.retrieve(resp.id)


def test_grpc_callers_get_the_responses_rpcs(gw, fake_gemini):
    import grpc

    from gemgate.v1 import responses_pb2 as rpb
    from gemgate.v1 import router_pb2_grpc

    key = new_key(gw, max_budget=1.0)
    internal = gw.internal_metadata
    md = (("authorization", f"Bearer {key}"), *internal)
    req = rpb.CreateResponseRequest(model="flash", input_text="via grpc")
    with grpc.insecure_channel(gw.router_address) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        with pytest.raises(grpc.RpcError) as exc:
            stub.CreateResponse(req, metadata=internal, timeout=10)  # no virtual key
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        resp, call = stub.CreateResponse.with_call(req, metadata=md, timeout=10)
        assert resp.status == "completed" and resp.output[0].content[0].text == "echo: via grpc"
        trailers = dict(call.trailing_metadata())
        assert trailers["x-gemgate-model-group"] == "flash" and float(trailers["x-gemgate-response-cost"]) > 0
        events = list(stub.StreamResponse(rpb.CreateResponseRequest(model="flash", input_text="s", previous_response_id=resp.id),
                                          metadata=md, timeout=10))
        assert events[0].type == "response.created" and events[-1].type == "response.completed"
        assert [e.sequence_number for e in events] == list(range(len(events)))
        streamed_id = events[-1].response.id
        got = stub.GetResponse(rpb.GetResponseRequest(response_id=streamed_id), metadata=md, timeout=10)
        assert got.previous_response_id == resp.id
        items = stub.ListResponseInputItems(rpb.ListResponseInputItemsRequest(response_id=streamed_id, order="asc", limit=2),
                                            metadata=md, timeout=10)
        assert [i.type for i in items.data] == ["message", "message"] and items.has_more
        assert stub.DeleteResponse(rpb.DeleteResponseRequest(response_id=streamed_id), metadata=md, timeout=10).deleted
        with pytest.raises(grpc.RpcError) as exc:
            stub.GetResponse(rpb.GetResponseRequest(response_id=streamed_id), metadata=md, timeout=10)
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND


def test_cancelled_stream_is_charged_and_releases_its_slot(gw, fake_gemini):
    key = new_key(gw, max_parallel_requests=1, max_budget=1.0)
    slow = [{"candidates": [{"content": {"role": "model", "parts": [{"text": f"part{i} "}]}}]} for i in range(20)]
    slow.append({"candidates": [{"content": {"role": "model", "parts": [{"text": "end"}]}, "finishReason": "STOP"}]})
    fake_gemini.enqueue("gemini-2.5-flash", {"sse": slow, "gap": 0.2})
    hdrs = {"Authorization": f"Bearer {key}"}
    with httpx.stream("POST", f"{gw.base_url}/v1/responses", json={"model": "flash", "input": "long", "stream": True},
                      headers=hdrs, timeout=30) as r:
        assert r.status_code == 200
        lines = r.iter_lines()  # kept referenced: a collected iterator would close the connection
        next(line for line in lines if line.startswith("data: ") and "part0" in line)
        busy = httpx.post(f"{gw.base_url}/v1/responses", json={"model": "flash", "input": "x"}, headers=hdrs, timeout=30)
        assert busy.status_code == 429  # the one slot is the stream's
    deadline = time.monotonic() + 10
    while httpx.post(f"{gw.base_url}/v1/responses", json={"model": "flash", "input": "x"}, headers=hdrs, timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "parallel slot not released after the client went away"
        time.sleep(0.2)
    assert settled(gw, key, lambda s: s > 0) > 0  # the cut-short stream was charged for what it produced
