"""Anthropic Messages API: POST /v1/messages (unary + SSE) and /v1/messages/count_tokens.

The key comes in `x-api-key` (what the anthropic SDK and Claude Code send) or `Authorization:
Bearer`. Every failure is Anthropic's error shape `{"type": "error", "error": {"type", "message"}}`
with the matching HTTP status; after a stream has started, an `event: error`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gemgate import anthropic_proto as conv
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import from_rpc_error
from rest_facade import errors
from rest_facade.auth import batch_route_headers, caller_key, grpc_metadata, route_headers
from rest_facade.body import json_body
from rest_facade.event_stream import EventStream

router = APIRouter()

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error"}


def error_body(err: GatewayError) -> dict:
    status = err.kind.info.http_status
    etype = _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": etype, "message": err.message}}


def error_response(err: GatewayError, headers: dict[str, str] | None = None) -> JSONResponse:
    return errors.error_response(err, headers, body=error_body(err))


def metadata(request: Request) -> tuple[tuple[str, str], ...]:
    """The common metadata (request id, forwarded headers), with the key from x-api-key too."""
    md = [kv for kv in grpc_metadata(request) if kv[0] != "authorization"]
    key = caller_key(request) or (request.headers.get("x-api-key") or "").strip() or None
    if key:
        md.insert(0, ("authorization", f"Bearer {key}"))
    return tuple(md)


def _sse(event: dict) -> bytes:
    return f"event: {event.get('type', 'message')}\ndata: ".encode() + orjson.dumps(event) + b"\n\n"


async def _proto(request: Request, *, vertex_model: str | None = None, stream: bool | None = None):
    body = await json_body(request)
    if vertex_model is not None:  # Vertex rawPredict shape: model in the URL, anthropic_version in the body
        body.pop("anthropic_version", None)
        body = {**body, "model": body.get("model") if vertex_model == "count-tokens" else vertex_model}
        if stream is not None:
            body["stream"] = stream
    betas = request.headers.getlist("anthropic-beta") if hasattr(request.headers, "getlist") else []
    return body, conv.messages_request_to_proto(body, betas=betas)


@router.post("/v1/messages")
@router.post("/anthropic/v1/messages", include_in_schema=False)
async def messages(request: Request):
    try:
        _, proto = await _proto(request)
    except GatewayError as err:
        return error_response(err)
    return await _messages(request, proto)


@router.post("/vertex_ai/{version}/projects/{project}/locations/{location}/publishers/anthropic/models/{target:path}")
@router.post("/vertex-ai/{version}/projects/{project}/locations/{location}/publishers/anthropic/models/{target:path}",
             include_in_schema=False)
async def vertex_raw_predict(version: str, project: str, location: str, target: str, request: Request):
    """Claude's Vertex shape (what Claude Code sends with CLAUDE_CODE_USE_VERTEX): {model} is a model
    group; the path's project and location are not an address (the group's deployments are used)."""
    model, _, op = target.rpartition(":")
    try:
        if version not in ("v1", "v1beta1") or not model:
            raise GatewayError(ErrorKind.NOT_FOUND, f"{target!r} is not served by gemgate")
        if model == "count-tokens" and op == "rawPredict":
            _, proto = await _proto(request, vertex_model=model)
            return await _count(request, proto)
        if op not in ("rawPredict", "streamRawPredict"):
            raise GatewayError(ErrorKind.NOT_FOUND, f"method {op!r} is not served by gemgate")
        _, proto = await _proto(request, vertex_model=model, stream=op == "streamRawPredict")
    except GatewayError as err:
        return error_response(err)
    return await _messages(request, proto)


async def _messages(request: Request, proto):
    stub, md = request.app.state.router, metadata(request)
    if not proto.stream:
        call = stub.AnthropicMessages(proto, metadata=md)
        try:
            resp = await call
        except grpc.aio.AioRpcError as exc:
            return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
        return JSONResponse(conv.message_to_dict(resp), headers=route_headers(await call.trailing_metadata()))
    # batched: every event the router had at hand in one message (one write here), the route facts in the first
    call = stub.StreamAnthropicMessagesBatched(proto, metadata=md)
    try:
        first = await call.read()
    except grpc.aio.AioRpcError as exc:
        return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
    headers = await batch_route_headers(call, first)

    async def events() -> AsyncIterator[bytes]:
        try:
            msg = first
            while msg is not grpc.aio.EOF:
                yield b"".join(_sse(conv.event_to_dict(e)) for e in msg.events)
                msg = await call.read()
        except grpc.aio.AioRpcError as exc:
            yield _sse(error_body(from_rpc_error(exc)))
        finally:
            call.cancel()  # no-op when finished; on client disconnect it tells the router

    return EventStream(events(), call.cancel, media_type="text/event-stream", headers=headers)


@router.post("/v1/messages/count_tokens")
@router.post("/anthropic/v1/messages/count_tokens", include_in_schema=False)
async def count_tokens(request: Request):
    try:
        _, proto = await _proto(request)
    except GatewayError as err:
        return error_response(err)
    return await _count(request, proto)


async def _count(request: Request, proto):
    proto.stream = False
    call = request.app.state.router.AnthropicCountTokens(proto, metadata=metadata(request))
    try:
        resp = await call
    except grpc.aio.AioRpcError as exc:
        return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
    return JSONResponse({"input_tokens": resp.input_tokens}, headers=route_headers(await call.trailing_metadata()))
