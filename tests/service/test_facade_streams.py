"""Issue 15: the REST facade's streamed endpoints read the router's batched streams (several events per
gRPC message) and write every event of a message, in order, as the client's own format expects.

The router here is a strict stand-in on a real gRPC port: it serves only the batched RPCs (the
one-event-per-message ones answer UNIMPLEMENTED, as RouterServiceServicer's defaults do), sends the
events of a burst in one message and the route facts on the first message only."""

from __future__ import annotations

import json

import grpc
import httpx
import pytest

from gemgate import gemini_proto, openai_proto
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import abort
from gemgate.responses import convert as responses_convert
from gemgate.v1 import gemini_native_pb2, responses_pb2, router_pb2, router_pb2_grpc
from rest_facade.app import FacadeSettings, create_app

ROUTE = {"x-gemgate-model-group": "flash", "x-gemgate-request-id": "gg-test"}


def chat_chunk(i: int, text: str, finish: str = "") -> router_pb2.ChatCompletionChunk:
    return openai_proto.chat_chunk_to_proto({
        "id": "chatcmpl-b1", "object": "chat.completion.chunk", "created": 1, "model": "flash",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish or None}]})


def gemini_response(text: str, finish: str = "") -> gemini_native_pb2.GeminiGenerateResponse:
    cand: dict = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish:
        cand["finishReason"] = finish
    return gemini_proto.response_to_proto({"candidates": [cand], "modelVersion": "gemini-2.5-flash"})


class BatchedOnlyRouter(router_pb2_grpc.RouterServiceServicer):
    """Serves the batched streams; every other method is the generated UNIMPLEMENTED default."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def StreamChatCompletionChunks(self, request, context):
        self.calls.append("StreamChatCompletionChunks")
        yield router_pb2.ChatCompletionChunkBatch(chunks=[chat_chunk(0, "p0 ")], route=ROUTE)
        # a burst: three chunks in one message
        yield router_pb2.ChatCompletionChunkBatch(chunks=[chat_chunk(1, "p1 "), chat_chunk(2, "p2 "),
                                                          chat_chunk(3, "", "stop")])


    async def StreamGeminiGenerateContentBatched(self, request, context):
        self.calls.append("StreamGeminiGenerateContentBatched")
        yield gemini_native_pb2.GeminiGenerateResponseBatch(responses=[gemini_response("g0 ")], route=ROUTE)
        yield gemini_native_pb2.GeminiGenerateResponseBatch(responses=[gemini_response("g1 "), gemini_response("g2 ")])
        if request.model == "broken":  # an upstream failure after a burst
            await abort(context, GatewayError(ErrorKind.UNAVAILABLE, "The model is overloaded."))
        yield gemini_native_pb2.GeminiGenerateResponseBatch(responses=[gemini_response("", "STOP")])


    async def StreamResponseBatched(self, request, context):
        self.calls.append("StreamResponseBatched")

        def delta(n: int):
            return responses_convert.event_from_dict({"type": "response.output_text.delta", "sequence_number": n,
                                                      "item_id": "msg_1", "output_index": 0, "content_index": 0,
                                                      "delta": f"r{n} "})

        yield responses_pb2.ResponseStreamEventBatch(events=[delta(0)], route=ROUTE)
        yield responses_pb2.ResponseStreamEventBatch(events=[delta(1), delta(2), delta(3)])
        await abort(context, GatewayError(ErrorKind.UNAVAILABLE, "The model is overloaded."))


@pytest.fixture
async def facade():
    servicer = BatchedOnlyRouter()
    server = grpc.aio.server()
    router_pb2_grpc.add_RouterServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    app = create_app(FacadeSettings(router_address=f"127.0.0.1:{port}"))
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade") as client:
                yield client, servicer
    finally:
        await server.stop(None)


def assert_stream_headers(r: httpx.Response) -> None:
    """What every event stream answers with: not cached, not buffered by a proxy in between."""
    assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"


def frames(body: str) -> list[str]:
    return [f.removeprefix("data: ") for f in body.split("\n\n") if f]


async def test_legacy_completions_stream_reads_the_batched_chat_stream(facade):
    client, router = facade
    r = await client.post("/v1/completions", json={"model": "flash", "prompt": "x", "stream": True})
    assert r.status_code == 200, r.text
    assert_stream_headers(r)
    got = frames(r.text)
    assert got[-1] == "[DONE]"
    chunks = [json.loads(f) for f in got[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    assert [c["choices"][0]["text"] for c in chunks] == ["p0 ", "p1 ", "p2 ", ""]  # every chunk of the burst
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert r.headers["x-gemgate-model-group"] == "flash" and r.headers["x-gemgate-request-id"] == "gg-test"
    assert router.calls == ["StreamChatCompletionChunks"]


async def test_chat_stream_reads_the_batched_chat_stream(facade):
    client, router = facade
    r = await client.post("/v1/chat/completions", json={"model": "flash", "stream": True,
                                                        "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200, r.text
    assert_stream_headers(r)
    got = frames(r.text)
    assert got[-1] == "[DONE]"
    assert [json.loads(f)["choices"][0]["delta"].get("content") for f in got[:-1]] == ["p0 ", "p1 ", "p2 ", ""]
    assert r.headers["x-gemgate-model-group"] == "flash"
    assert router.calls == ["StreamChatCompletionChunks"]


def texts(events: list[dict]) -> list[str]:
    return [p.get("text", "") for e in events if "candidates" in e for p in e["candidates"][0]["content"]["parts"]]


GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}


async def test_gemini_sse_stream_reads_the_batched_stream(facade):
    client, router = facade
    r = await client.post("/gemini/v1beta/models/flash:streamGenerateContent?alt=sse", json=GEMINI_BODY)
    assert r.status_code == 200, r.text
    assert_stream_headers(r)
    assert r.headers["content-type"].startswith("text/event-stream") and r.headers["x-gemgate-model-group"] == "flash"
    events = [json.loads(f.removeprefix("data: ")) for f in r.text.split("\r\n\r\n") if f]
    assert texts(events) == ["g0 ", "g1 ", "g2 ", ""]
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"
    assert router.calls == ["StreamGeminiGenerateContentBatched"]


async def test_gemini_array_stream_reads_the_batched_stream_and_ends_with_the_error(facade):
    client, _ = facade
    r = await client.post("/gemini/v1beta/models/flash:streamGenerateContent", json=GEMINI_BODY)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert_stream_headers(r)
    assert texts(json.loads(r.text)) == ["g0 ", "g1 ", "g2 ", ""]  # one valid JSON array
    r = await client.post("/gemini/v1beta/models/broken:streamGenerateContent", json=GEMINI_BODY)
    events = json.loads(r.text)  # still one valid JSON array: the burst, then the error object
    assert texts(events) == ["g0 ", "g1 ", "g2 "]
    assert events[-1]["error"]["status"] == "UNAVAILABLE" and "overloaded" in events[-1]["error"]["message"]


async def test_responses_stream_reads_the_batched_stream_and_numbers_the_error_next(facade):
    client, router = facade
    r = await client.post("/v1/responses", json={"model": "flash", "input": "x", "stream": True})
    assert r.status_code == 200, r.text
    assert_stream_headers(r)
    assert r.headers["x-gemgate-model-group"] == "flash"
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert [e.get("delta") for e in events[:-1]] == ["r0 ", "r1 ", "r2 ", "r3 "]  # every event of the burst
    assert events[-1]["type"] == "error" and events[-1]["sequence_number"] == 4  # right after the last one
    assert "overloaded" in events[-1]["message"]
    assert router.calls == ["StreamResponseBatched"]
