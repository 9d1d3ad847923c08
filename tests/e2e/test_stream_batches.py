"""Issue 15: the batched chat stream (RouterService.StreamChatCompletionChunks, used by the REST
facade): a burst of upstream events travels in fewer gRPC messages with the very chunks the
one-per-message stream sends; events that come one at a time go one at a time, nothing waits for
company; an upstream error after a burst still delivers the burst's chunks first; the route facts
ride on the first message and reach the client as headers. The Responses API's stream
(StreamResponseBatched) is checked the same way at the end."""

from __future__ import annotations

import json
import time

import grpc
import httpx

from gemgate.responses import convert as responses_convert
from gemgate.v1 import router_pb2, router_pb2_grpc

MODEL = "gemini-2.5-flash"


def events(n: int, *, finish: bool = True) -> list[dict]:
    out = []
    for i in range(n):
        cand: dict = {"content": {"role": "model", "parts": [{"text": f"p{i} "}]}}
        event: dict = {"candidates": [cand], "modelVersion": MODEL, "responseId": "burst1"}
        if finish and i == n - 1:
            cand["finishReason"] = "STOP"
            event["usageMetadata"] = {"promptTokenCount": 4, "candidatesTokenCount": n, "totalTokenCount": 4 + n}
        out.append(event)
    return out


def request() -> router_pb2.ChatCompletionRequest:
    return router_pb2.ChatCompletionRequest(model="flash", messages=[router_pb2.Message(role="user", text="burst")],
                                            stream_options=router_pb2.StreamOptions(include_usage=True))


def view(chunk: router_pb2.ChatCompletionChunk) -> tuple:
    return ([(c.index, c.delta.content, c.finish_reason) for c in chunk.choices],
            chunk.usage.total_tokens if chunk.HasField("usage") else None)


def test_a_burst_travels_in_fewer_messages_with_the_same_chunks(gateway, fake_gemini):
    burst = events(6)
    fake_gemini.enqueue(MODEL, {"sse": burst, "burst": True}, {"sse": burst, "burst": True})
    with grpc.insecure_channel(gateway.router_address) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        batches = list(stub.StreamChatCompletionChunks(request(), metadata=gateway.internal_metadata, timeout=10))
        singles = list(stub.StreamChatCompletion(request(), metadata=gateway.internal_metadata, timeout=10))
    batched = [c for b in batches for c in b.chunks]
    assert all(b.chunks for b in batches)
    assert len(singles) >= 7  # six deltas and the usage chunk ...
    assert len(batches) < len(batched)  # ... the burst took fewer messages
    assert [view(c) for c in batched] == [view(c) for c in singles]
    assert "".join(c.choices[0].delta.content for c in batched if c.choices) == "".join(f"p{i} " for i in range(6))
    assert batched[-1].usage.total_tokens == 10


def test_events_one_at_a_time_go_one_at_a_time(gateway, fake_gemini):
    fake_gemini.enqueue(MODEL, {"sse": events(3), "gap": 0.4})
    arrivals = []
    with grpc.insecure_channel(gateway.router_address) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        for batch in stub.StreamChatCompletionChunks(request(), metadata=gateway.internal_metadata, timeout=10):
            arrivals.append((time.monotonic(), "".join(c.choices[0].delta.content for c in batch.chunks if c.choices)))
    texts = [text for _, text in arrivals]
    assert "p0 " in texts and "p1 " in texts  # each event in its own message
    assert arrivals[-1][0] - arrivals[0][0] > 0.6  # the first chunk did not wait for the later ones


def test_route_facts_ride_on_the_first_message_and_reach_the_client(gateway, fake_gemini):
    fake_gemini.enqueue(MODEL, {"sse": events(3), "gap": 0.05})
    with grpc.insecure_channel(gateway.router_address) as ch:
        batches = list(router_pb2_grpc.RouterServiceStub(ch).StreamChatCompletionChunks(
            request(), metadata=(*gateway.internal_metadata, ("x-request-id", "client-rid-1")), timeout=10))
    assert len(batches) >= 2
    first = dict(batches[0].route)
    assert first["x-request-id"] == "client-rid-1" and first["x-gemgate-request-id"]
    assert first["x-gemgate-model-group"] == "flash" and first["x-gemgate-model-id"]
    assert all(not b.route for b in batches[1:])
    fake_gemini.enqueue(MODEL, {"sse": events(2), "burst": True})
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions", timeout=10, headers={"x-request-id": "client-rid-2"},
                      json={"model": "flash", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
        assert r.status_code == 200
        r.read()
    assert r.headers["x-request-id"] == "client-rid-2" and r.headers["x-gemgate-model-group"] == "flash"
    assert r.headers["x-gemgate-model-id"] == first["x-gemgate-model-id"] and r.headers["x-gemgate-request-id"]


def test_facade_writes_a_burst_as_separate_events(gateway, fake_gemini):
    fake_gemini.enqueue(MODEL, {"sse": events(4), "burst": True})
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions", timeout=10,
                      json={"model": "flash", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
        assert r.status_code == 200
        body = r.read().decode()
    frames = [f for f in body.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    chunks = [json.loads(f.removeprefix("data: ")) for f in frames[:-1]]
    assert all(f.startswith("data: {") for f in frames[:-1])
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "p0 p1 p2 p3 "
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_an_error_after_a_burst_delivers_the_burst_first(gateway, fake_gemini):
    burst = [*events(3, finish=False), {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}]
    fake_gemini.enqueue(MODEL, {"sse": burst, "burst": True})
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions", timeout=10,
                      json={"model": "flash", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
        body = r.read().decode()
    assert body.index("p0 ") < body.index("p1 ") < body.index("p2 ") < body.index("overloaded")
    assert '"error"' in body and "[DONE]" not in body
    fake_gemini.enqueue(MODEL, {"sse": burst, "burst": True})
    with grpc.insecure_channel(gateway.router_address) as ch:
        got = []
        call = router_pb2_grpc.RouterServiceStub(ch).StreamChatCompletionChunks(
            request(), metadata=gateway.internal_metadata, timeout=10)
        try:
            for batch in call:
                got += [c.choices[0].delta.content for c in batch.chunks if c.choices and c.choices[0].delta.content]
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE and "overloaded" in exc.details()
        else:
            raise AssertionError("the stream ended without the upstream's error")
    assert got == ["p0 ", "p1 ", "p2 "]


def test_a_connection_cut_after_a_burst_delivers_the_burst_then_an_error(gateway, fake_gemini):
    fake_gemini.enqueue(MODEL, {"sse": events(3, finish=False), "burst": True, "close_early": True})
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions", timeout=10,
                      json={"model": "flash", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
        assert r.status_code == 200
        body = r.read().decode()
    assert body.index("p0 ") < body.index("p1 ") < body.index("p2 ") < body.index('"error"')
    assert "[DONE]" not in body


def test_responses_burst_travels_in_fewer_messages_with_the_same_events(gateway, fake_gemini):
    """StreamResponseBatched (the facade's /v1/responses stream): the very events of StreamResponse,
    in order and numbered alike, in fewer messages; the route facts on the first message only."""
    burst = events(6)
    fake_gemini.enqueue(MODEL, {"sse": burst, "burst": True}, {"sse": burst, "burst": True})
    req = responses_convert.request_to_proto({"model": "flash", "input": "burst", "store": False})
    with grpc.insecure_channel(gateway.router_address) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        batches = list(stub.StreamResponseBatched(req, metadata=gateway.internal_metadata, timeout=10))
        singles = list(stub.StreamResponse(req, metadata=gateway.internal_metadata, timeout=10))
    batched = [e for b in batches for e in b.events]
    assert all(b.events for b in batches) and len(batches) < len(batched)
    # the burst's six deltas, not only the opening events, share messages
    assert sum(any(e.type == "response.output_text.delta" for e in b.events) for b in batches) < 6

    def view(e):
        return e.type, e.sequence_number, e.delta if e.HasField("delta") else None

    assert [view(e) for e in batched] == [view(e) for e in singles]
    assert batched[0].type == "response.created" and batched[-1].type == "response.completed"
    assert "".join(e.delta for e in batched if e.type == "response.output_text.delta") == "".join(
        f"p{i} " for i in range(6))
    route = dict(batches[0].route)
    assert route["x-gemgate-model-group"] == "flash" and route["x-gemgate-request-id"]
    assert all(not b.route for b in batches[1:])


def test_responses_error_after_a_burst_delivers_the_burst_then_response_failed(gateway, fake_gemini):
    burst = [*events(3, finish=False), {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}]
    fake_gemini.enqueue(MODEL, {"sse": burst, "burst": True})
    with httpx.stream("POST", f"{gateway.base_url}/v1/responses", timeout=10,
                      json={"model": "flash", "stream": True, "input": "x", "store": False}) as r:
        assert r.status_code == 200 and r.headers["x-gemgate-model-group"] == "flash"
        body = r.read().decode()
    got = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert [e["sequence_number"] for e in got] == list(range(len(got)))
    assert [e["delta"] for e in got if e["type"] == "response.output_text.delta"] == ["p0 ", "p1 ", "p2 "]
    assert got[-1]["type"] == "response.failed" and "overloaded" in got[-1]["response"]["error"]["message"]
