"""OpenAI Responses API: POST /v1/responses (unary + SSE events), GET/DELETE /v1/responses/{id},
GET /v1/responses/{id}/input_items. Validation and rendering in gemgate.responses.convert; the
router does the rest (RouterService Responses RPCs), so gRPC callers get the same behaviour."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gemgate.errors import invalid
from gemgate.grpc_errors import from_rpc_error
from gemgate.responses import convert
from gemgate.v1 import responses_pb2 as rpb
from rest_facade.auth import batch_route_headers, grpc_metadata, route_headers
from rest_facade.body import json_body
from rest_facade.errors import error_response
from rest_facade.event_stream import EventStream

router = APIRouter()


def _sse(event: dict) -> bytes:
    return f"event: {event['type']}\ndata: ".encode() + orjson.dumps(event) + b"\n\n"


@router.post("/v1/responses")
@router.post("/responses")
async def create_response(request: Request):
    body = await json_body(request)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("stream must be a boolean", "stream")
    proto = convert.request_to_proto(body)
    stub, md = request.app.state.router, grpc_metadata(request)
    if not stream:
        call = stub.CreateResponse(proto, metadata=md)
        try:
            resp = await call
        except grpc.aio.AioRpcError as exc:
            return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
        return JSONResponse(convert.response_to_dict(resp), headers=route_headers(await call.trailing_metadata()))
    return await _stream(stub, proto, md)


async def _stream(stub, proto: rpb.CreateResponseRequest, md) -> EventStream | JSONResponse:
    # batched: every event the router had at hand in one message (one write here), the route facts in the first
    call = stub.StreamResponseBatched(proto, metadata=md)
    try:
        first = await call.read()
    except grpc.aio.AioRpcError as exc:  # failed before the response was created: a plain HTTP error
        return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
    headers = await batch_route_headers(call, first)

    async def events() -> AsyncIterator[bytes]:
        last_type, seq = "", -1
        try:
            msg = first
            while msg is not grpc.aio.EOF:
                out = []
                for event in msg.events:
                    ev = convert.event_to_dict(event)
                    last_type, seq = ev["type"], ev["sequence_number"]
                    out.append(_sse(ev))
                yield b"".join(out)
                msg = await call.read()
        except grpc.aio.AioRpcError as exc:
            if last_type != "response.failed":  # the router reports failures as response.failed
                err = from_rpc_error(exc)
                yield _sse({"type": "error", "sequence_number": seq + 1, "code": err.code,
                            "message": err.message, "param": err.param})
        finally:
            call.cancel()  # no-op when finished; on client disconnect it tells the router

    return EventStream(events(), call.cancel, media_type="text/event-stream", headers=headers)


async def _call(rpc, message, request: Request):
    try:
        return await rpc(message, metadata=grpc_metadata(request))
    except grpc.aio.AioRpcError as exc:
        return error_response(from_rpc_error(exc))


@router.get("/v1/responses/{response_id}")
@router.get("/responses/{response_id}")
async def get_response(response_id: str, request: Request):
    resp = await _call(request.app.state.router.GetResponse, rpb.GetResponseRequest(response_id=response_id), request)
    return resp if isinstance(resp, JSONResponse) else convert.response_to_dict(resp)


@router.delete("/v1/responses/{response_id}")
@router.delete("/responses/{response_id}")
async def delete_response(response_id: str, request: Request):
    resp = await _call(request.app.state.router.DeleteResponse, rpb.DeleteResponseRequest(response_id=response_id), request)
    if isinstance(resp, JSONResponse):
        return resp
    return {"id": resp.id, "object": resp.object or "response", "deleted": resp.deleted}


@router.get("/v1/responses/{response_id}/input_items")
@router.get("/responses/{response_id}/input_items")
async def list_input_items(response_id: str, request: Request):
    q = request.query_params
    msg = rpb.ListResponseInputItemsRequest(response_id=response_id, order=q.get("order", ""),
                                            after=q.get("after", ""), before=q.get("before", ""))
    if q.get("limit") is not None:
        try:
            msg.limit = int(q["limit"])
        except ValueError:
            raise invalid("limit must be an integer", "limit") from None
    resp = await _call(request.app.state.router.ListResponseInputItems, msg, request)
    if isinstance(resp, JSONResponse):
        return resp
    return {"object": "list", "data": [convert.item_to_dict(i) for i in resp.data],
            "first_id": resp.first_id or None, "last_id": resp.last_id or None, "has_more": resp.has_more}
