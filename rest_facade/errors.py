"""Every failure leaves the facade as the OpenAI error envelope with the right HTTP status."""

from __future__ import annotations

import json
import logging

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import from_rpc_error

log = logging.getLogger("gemgate.facade")


def error_response(err: GatewayError, headers: dict[str, str] | None = None, body: dict | None = None) -> JSONResponse:
    """`err` as an HTTP response: the OpenAI envelope unless the route renders `body` in its own API's
    shape; status from the error kind, `retry-after` when the error carries one."""
    hdrs = dict(headers or {})
    if err.retry_after is not None:
        hdrs["retry-after"] = str(max(1, int(round(err.retry_after))))
    return JSONResponse(err.openai_body() if body is None else body, status_code=err.kind.info.http_status, headers=hdrs)


def sse_error(err: GatewayError) -> bytes:
    return b"data: " + json.dumps(err.openai_body()).encode() + b"\n\n"


def install(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway(_: Request, err: GatewayError) -> JSONResponse:
        return error_response(err)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc(_: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        return error_response(from_rpc_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(p) for p in first.get("loc", ())[1:] or first.get("loc", ()))  # drop body/query/path
        return error_response(GatewayError(ErrorKind.INVALID_REQUEST, f"{loc}: {first.get('msg', 'invalid request')}", param=loc or None))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        from rest_facade.routes.litellm_utils import not_supported

        if exc.status_code == 404 and not_supported(request.url.path):
            err = GatewayError(ErrorKind.NOT_FOUND, f"{request.url.path} is a LiteLLM proxy endpoint that is not supported "
                               "by gemgate. See /routes for what gemgate serves.", code="not_supported")
        elif exc.status_code == 404:
            err = GatewayError(ErrorKind.NOT_FOUND, "Unknown endpoint. See /v1/chat/completions, /v1/embeddings, /v1/models.")
        elif exc.status_code == 405:
            err = GatewayError(ErrorKind.INVALID_REQUEST, "Method not allowed for this endpoint.", code="method_not_allowed")
            return JSONResponse(err.openai_body(), status_code=405)
        else:
            kind = ErrorKind.INVALID_REQUEST if exc.status_code < 500 else ErrorKind.INTERNAL
            err = GatewayError(kind, str(exc.detail))
            return JSONResponse(err.openai_body(), status_code=exc.status_code)
        return error_response(err)
    # Unexpected exceptions are answered by rest_facade.guard.InputGuard (keeps the connection).
