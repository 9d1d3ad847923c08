"""OpenAI-compatible endpoints: chat completions (unary + SSE), embeddings, models."""

from __future__ import annotations

import base64
import logging
import struct
from collections.abc import AsyncIterator

import grpc
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gemgate import openai_proto as conv
from gemgate.errors import ErrorKind, GatewayError, invalid
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import router_pb2
from rest_facade import openapi_doc as docs
from rest_facade.auth import batch_route_headers, grpc_metadata, route_headers
from rest_facade.body import json_body, off_loop
from rest_facade.errors import error_response, sse_error
from rest_facade.event_stream import EventStream

router = APIRouter()
log = logging.getLogger("gemgate.facade")

DONE = b"data: [DONE]\n\n"


def _dumps(obj: dict) -> bytes:
    return orjson.dumps(obj)


class FastJSONResponse(JSONResponse):
    """A JSON reply rendered with orjson (the chat hot path)."""

    def render(self, content) -> bytes:
        return orjson.dumps(content)


_CHAT_DOC = dict(openapi_extra=docs.body_doc("ChatCompletionRequest"),
                 responses={200: docs.json_answer("ChatCompletion", **{"text/event-stream": {}}), **docs.ERRORS})


@router.post("/v1/chat/completions", **_CHAT_DOC)
@router.post("/chat/completions", **_CHAT_DOC)
@router.post("/v1/openai/deployments/{deployment}/chat/completions", include_in_schema=False)
async def chat_completions(request: Request):
    body = await json_body(request)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("stream must be a boolean", "stream")
    proto = await off_loop(len(await request.body()), conv.chat_request_to_proto, body)
    stub = request.app.state.router
    md = grpc_metadata(request)
    if not stream:
        call = stub.ChatCompletion(proto, metadata=md)
        try:
            resp = await call
        except grpc.aio.AioRpcError as exc:
            return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
        headers = route_headers(await call.trailing_metadata())
        return FastJSONResponse(conv.chat_response_to_dict(resp), headers=headers)
    return await _stream(stub, proto, md)


def _sse(batch: router_pb2.ChatCompletionChunkBatch) -> bytes:
    """One SSE event per chunk of a batch, as one write."""
    return b"".join(b"data: " + _dumps(conv.chat_chunk_to_dict(c)) + b"\n\n" for c in batch.chunks)


async def _stream(stub, proto: router_pb2.ChatCompletionRequest, md) -> EventStream | JSONResponse:
    # the batched stream: every chunk the router had at hand in one message, and here in one write
    call = stub.StreamChatCompletionChunks(proto, metadata=md)
    try:
        first = await call.read()
    except grpc.aio.AioRpcError as exc:
        return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
    # the route facts come in the first message (read() raised if the RPC failed before one)
    headers = await batch_route_headers(call, first)

    async def events() -> AsyncIterator[bytes]:
        try:
            if first is not grpc.aio.EOF:
                yield _sse(first)
            while True:
                msg = await call.read()
                if msg is grpc.aio.EOF:
                    break
                yield _sse(msg)
            yield DONE
        except grpc.aio.AioRpcError as exc:
            yield sse_error(from_rpc_error(exc))
        except Exception:  # noqa: BLE001 - the stream has started: end it with an error event
            log.exception("unexpected error while streaming")
            yield sse_error(GatewayError(ErrorKind.INTERNAL, "internal error in rest_facade"))
        finally:
            call.cancel()  # no-op when finished; on client disconnect it tells the router

    return EventStream(events(), call.cancel, media_type="text/event-stream", headers=headers)


_EMBED_DOC = dict(openapi_extra=docs.body_doc("EmbeddingsRequest"),
                  responses={200: docs.json_answer("EmbeddingsResponse"), **docs.ERRORS})


@router.post("/v1/embeddings", **_EMBED_DOC)
@router.post("/embeddings", **_EMBED_DOC)
async def embeddings(request: Request):
    body = await json_body(request)
    proto = await off_loop(len(await request.body()), conv.embeddings_request_to_proto, body)
    call = request.app.state.router.Embeddings(proto, metadata=grpc_metadata(request))
    try:
        resp = await call
    except grpc.aio.AioRpcError as exc:
        return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
    out = conv.embeddings_response_to_dict(resp)
    if body.get("encoding_format") == "base64":
        for item in out["data"]:
            item["embedding"] = base64.b64encode(struct.pack(f"<{len(item['embedding'])}f", *item["embedding"])).decode()
    return JSONResponse(out, headers=route_headers(await call.trailing_metadata()))


async def _models(request: Request) -> list[dict]:
    resp = await request.app.state.router.ListModels(router_pb2.ListModelsRequest(), metadata=grpc_metadata(request))
    return [{"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by} for m in resp.data]


@router.get("/v1/models", responses={200: docs.json_answer("ModelList"), **docs.ERRORS})
@router.get("/models", responses={200: docs.json_answer("ModelList"), **docs.ERRORS})
async def list_models(request: Request):
    return {"object": "list", "data": await _models(request)}


@router.get("/v1/models/{model_id:path}", responses={200: docs.json_answer("Model"), **docs.ERRORS})
@router.get("/models/{model_id:path}", responses={200: docs.json_answer("Model"), **docs.ERRORS})
async def get_model(model_id: str, request: Request):
    for m in await _models(request):
        if m["id"] == model_id:
            return m
    raise GatewayError(ErrorKind.MODEL_NOT_FOUND, f"The model `{model_id}` does not exist.", param="model")



# served by rest_facade.fast_lane.FastLane ahead of FastAPI's router (same handlers)
FAST_ROUTES = {("POST", "/v1/chat/completions"): chat_completions, ("POST", "/chat/completions"): chat_completions}
