"""Gemini's own REST API, served for AI Studio and Vertex deployments alike:

    /gemini/{v1beta|v1|v1alpha}/models/{group}:generateContent | :streamGenerateContent (alt=sse, or a
        JSON array without it) | :countTokens | :embedContent | :batchEmbedContents
    GET /gemini/{version}/models[/{group}]
    /vertex_ai/{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{group}:generateContent
        | :streamGenerateContent | :countTokens

{group} is a gemgate model group (never an upstream name): requests only reach configured
deployments, whose own project and location are used (the path's {p}/{l} are not an address).
The key (a gemgate key) comes in `x-goog-api-key`, `?key=`, or `Authorization: Bearer` (what the
Vertex SDK sends with an access token). Errors are Google's envelope
`{"error": {"code", "message", "status"}}`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gemgate import gemini_proto as conv
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import gemini_native_pb2 as pb
from rest_facade import errors
from rest_facade.auth import batch_route_headers, caller_key, grpc_metadata, route_headers
from rest_facade.body import json_body
from rest_facade.event_stream import EventStream

router = APIRouter()

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           408: "DEADLINE_EXCEEDED", 409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
           499: "CANCELLED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
GEMINI_VERSIONS = ("v1beta", "v1", "v1alpha")
VERTEX_VERSIONS = ("v1", "v1beta1")


def error_body(err: GatewayError) -> dict:
    code = err.kind.info.http_status
    return {"error": {"code": code, "message": err.message, "status": _STATUS.get(code, "UNKNOWN")}}


def error_response(err: GatewayError, headers: dict[str, str] | None = None) -> JSONResponse:
    return errors.error_response(err, headers, body=error_body(err))


def metadata(request: Request) -> tuple[tuple[str, str], ...]:
    """The common metadata (request id, forwarded headers), with the key from x-goog-api-key or ?key=."""
    md = [kv for kv in grpc_metadata(request) if kv[0] != "authorization"]
    key = (request.headers.get("x-goog-api-key") or "").strip() or caller_key(request) \
        or (request.query_params.get("key") or "").strip() or None
    if key:
        md.insert(0, ("authorization", f"Bearer {key}"))
    return tuple(md)


def _not_found(what: str) -> GatewayError:
    return GatewayError(ErrorKind.NOT_FOUND, f"{what} is not served by gemgate")


async def _unary(rpc, proto, md, to_dict):
    call = rpc(proto, metadata=md)
    try:
        resp = await call
    except grpc.aio.AioRpcError as exc:
        return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
    return JSONResponse(to_dict(resp), headers=route_headers(await call.trailing_metadata()))


async def _stream(stub, proto, md, sse: bool):
    # batched: every response the router had at hand in one message (one write here), the route facts in the first
    call = stub.StreamGeminiGenerateContentBatched(proto, metadata=md)
    try:
        first = await call.read()
    except grpc.aio.AioRpcError as exc:
        return error_response(from_rpc_error(exc), route_headers(exc.trailing_metadata()))
    headers = await batch_route_headers(call, first)

    async def events() -> AsyncIterator[bytes]:
        # SSE: one event per response; otherwise one JSON array of them, written as they come
        sep = b"[" if not sse else b""

        def item(obj: dict) -> bytes:
            nonlocal sep
            text = orjson.dumps(obj)
            out = b"data: " + text + b"\r\n\r\n" if sse else sep + text
            sep = b",\r\n"
            return out

        try:
            msg = first
            while msg is not grpc.aio.EOF:
                yield b"".join([item(conv.response_to_dict(resp)) for resp in msg.responses])
                msg = await call.read()
        except grpc.aio.AioRpcError as exc:
            yield item(error_body(from_rpc_error(exc)))
        finally:
            call.cancel()
        if not sse:
            yield b"[]" if sep == b"[" else b"]"

    return EventStream(events(), call.cancel, media_type="text/event-stream" if sse else "application/json", headers=headers)


async def _operate(request: Request, group: str, op: str, api: str):
    stub, md = request.app.state.router, metadata(request)
    body = await json_body(request)
    if op == "generateContent":
        return await _unary(stub.GeminiGenerateContent, conv.generate_request_to_proto(body, model=group, api=api), md,
                            conv.response_to_dict)
    if op == "streamGenerateContent":
        proto = conv.generate_request_to_proto(body, model=group, api=api)
        return await _stream(stub, proto, md, sse=request.query_params.get("alt") == "sse")
    if op == "countTokens":
        return await _unary(stub.GeminiCountTokens, conv.count_request_to_proto(body, model=group, api=api), md,
                            conv.count_response_to_dict)
    if op in ("embedContent", "batchEmbedContents") and api == "gemini":
        batch = op == "batchEmbedContents"

        def to_dict(resp: pb.GeminiEmbedResponse) -> dict:
            vectors = [{"values": list(e.values)} for e in resp.embeddings]
            return {"embeddings": vectors} if batch else {"embedding": vectors[0] if vectors else {"values": []}}

        return await _unary(stub.GeminiEmbedContent, conv.embed_request_to_proto(body, model=group, batch=batch), md,
                            to_dict)
    raise _not_found(f"method {op!r}")


def _split(target: str) -> tuple[str, str]:
    group, sep, op = target.rpartition(":")
    if not sep or not group:
        raise _not_found(f"{target!r} (expected models/{{model}}:{{method}})")
    return group.removeprefix("models/"), op


async def _guard(fn):
    try:
        return await fn()
    except GatewayError as err:
        return error_response(err)


@router.post("/gemini/{version}/models/{target:path}")
async def gemini_post(version: str, target: str, request: Request):
    async def run():
        if version not in GEMINI_VERSIONS:
            raise _not_found(f"API version {version!r}")
        group, op = _split(target)
        return await _operate(request, group, op, "gemini")
    return await _guard(run)


@router.post("/vertex_ai/{version}/projects/{project}/locations/{location}/publishers/google/models/{target:path}")
@router.post("/vertex-ai/{version}/projects/{project}/locations/{location}/publishers/google/models/{target:path}",
             include_in_schema=False)
async def vertex_post(version: str, project: str, location: str, target: str, request: Request):
    async def run():
        if version not in VERTEX_VERSIONS:
            raise _not_found(f"API version {version!r}")
        group, op = _split(target)
        if op not in ("generateContent", "streamGenerateContent", "countTokens"):
            raise _not_found(f"method {op!r}")
        return await _operate(request, group, op, "vertex")
    return await _guard(run)


def _model_dict(m: pb.GeminiModel) -> dict:
    return {"name": m.name, "baseModelId": m.base_model_id, "version": m.version, "displayName": m.display_name,
            "supportedGenerationMethods": list(m.supported_generation_methods)}


@router.get("/gemini/{version}/models")
async def gemini_models(version: str, request: Request):
    async def run():
        if version not in GEMINI_VERSIONS:
            raise _not_found(f"API version {version!r}")
        return await _unary(request.app.state.router.GeminiModels, pb.GeminiModelRequest(), metadata(request),
                            lambda r: {"models": [_model_dict(m) for m in r.models]})
    return await _guard(run)


@router.get("/gemini/{version}/models/{name:path}")
async def gemini_model(version: str, name: str, request: Request):
    async def run():
        if version not in GEMINI_VERSIONS:
            raise _not_found(f"API version {version!r}")
        return await _unary(request.app.state.router.GeminiModels, pb.GeminiModelRequest(name=name),
                            metadata(request), lambda r: _model_dict(r.models[0]))
    return await _guard(run)
