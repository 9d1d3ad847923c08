"""POST /v1/completions (and /completions): OpenAI legacy completions over the router's chat RPCs
(same admission, routing, pricing and usage as chat). Translation: gemgate/legacy_completions.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gemgate import legacy_completions as legacy
from gemgate import openai_proto as conv
from gemgate.errors import invalid
from gemgate.grpc_errors import from_rpc_error
from rest_facade.auth import batch_route_headers, grpc_metadata, route_headers
from rest_facade.body import json_body
from rest_facade.errors import error_response, sse_error
from rest_facade.event_stream import EventStream

router = APIRouter()


def _event(obj: dict) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _sse(batch) -> bytes:
    """The text_completion events of one batch of chat chunks, as one write (chunks with nothing to
    send, such as a role-only delta, have none)."""
    out = (legacy.chunk_from_chat(conv.chat_chunk_to_dict(c)) for c in batch.chunks)
    return b"".join(_event(o) for o in out if o is not None)


@router.post("/v1/completions")
@router.post("/completions")
async def completions(request: Request):
    body = legacy.to_chat(await json_body(request))
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("stream must be a boolean", "stream")
    proto = conv.chat_request_to_proto(body)
    stub, md = request.app.state.router, grpc_metadata(request)
    if not stream:
        call = stub.ChatCompletion(proto, metadata=md)
        try:
            resp = await call
        except grpc.aio.AioRpcError as exc:
            return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
        return JSONResponse(legacy.from_chat(conv.chat_response_to_dict(resp)),
                            headers=route_headers(await call.trailing_metadata()))
    # the batched chat stream, as /v1/chat/completions uses it: every chunk at hand in one message
    call = stub.StreamChatCompletionChunks(proto, metadata=md)
    try:
        first = await call.read()
    except grpc.aio.AioRpcError as exc:
        return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
    headers = await batch_route_headers(call, first)

    async def events() -> AsyncIterator[bytes]:
        msg = first
        try:
            while msg is not grpc.aio.EOF:
                data = _sse(msg)
                if data:
                    yield data
                msg = await call.read()
            yield b"data: [DONE]\n\n"
        except grpc.aio.AioRpcError as exc:
            yield sse_error(from_rpc_error(exc))
        finally:
            call.cancel()

    return EventStream(events(), call.cancel, media_type="text/event-stream", headers=headers)
