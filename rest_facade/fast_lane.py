"""The hot endpoints, served without FastAPI's router.

Chat completions are most of a gateway's traffic; matching them against every registered route and
running FastAPI's request/dependency machinery cost more CPU than the handler itself. `FastLane`
sits inside the InputGuard (so body limits, header checks and the early key check still apply) and
calls the same handler functions the FastAPI routes use, rendering their errors with the same
`error_response`; every other request goes on to FastAPI unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
from starlette.requests import Request
from starlette.responses import Response

from gemgate.errors import GatewayError
from gemgate.grpc_errors import from_rpc_error
from rest_facade.errors import error_response

Handler = Callable[[Request], Awaitable[Response]]


class FastLane:
    def __init__(self, app, routes: dict[tuple[str, str], Handler]) -> None:
        self.app = app
        self.routes = routes  # (method, path) -> handler

    async def __call__(self, scope, receive, send) -> None:
        handler = self.routes.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except GatewayError as err:
            response = error_response(err)
        except grpc.aio.AioRpcError as exc:
            response = error_response(from_rpc_error(exc))
        await response(scope, receive, send)
