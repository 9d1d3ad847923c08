"""RouterService gRPC servicer: transport only.

proto -> OpenAI dict, budget admit, route (router.py), budget settle (always, in finally),
dict -> proto. Errors leave as gRPC status + ErrorInfo (gemgate.grpc_errors).
"""

from __future__ import annotations

import logging
import time
import uuid

import grpc

from gemgate import openai_proto as conv
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import abort
from gemgate.v1 import router_pb2, router_pb2_grpc
from router_service.router import RouteInfo, Router

log = logging.getLogger("gemgate.router")


def api_key_from(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            scheme, _, token = value.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else value.strip()
        if key == "x-litellm-api-key":
            return value.strip()
    return None


def request_id_from(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id" and value:
            return value[:128]
    return uuid.uuid4().hex


def _route_metadata(info: RouteInfo | None, request_id: str) -> tuple[tuple[str, str], ...]:
    pairs = {"x-gemgate-request-id": request_id}
    if info is not None:
        pairs.update(info.headers())
    return tuple(pairs.items())


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(self, router: Router, gate) -> None:
        self.router = router
        self.gate = gate

    async def ChatCompletion(self, request, context: grpc.aio.ServicerContext):
        request_id = request_id_from(context)
        info: RouteInfo | None = None
        admission = None
        usage = None
        ok = False
        try:
            req = conv.chat_request_to_dict(request)
            req.pop("stream", None)
            admission = await self.gate.admit(api_key_from(context), request_id, req)
            response, info = await self.router.chat(req)
            usage = response.get("usage")
            ok = True
            context.set_trailing_metadata(_route_metadata(info, request_id))
            return conv.chat_response_to_proto(response)
        except GatewayError as err:
            context.set_trailing_metadata(_route_metadata(info, request_id))
            await abort(context, err)
        except Exception as exc:  # a bug, not a client mistake: log it, answer a clean 500
            await abort(context, internal_error(exc))
        finally:
            if admission is not None:
                await self.gate.settle(admission, usage=usage, route=info, success=ok)

    async def StreamChatCompletion(self, request, context: grpc.aio.ServicerContext):
        request_id = request_id_from(context)
        info: RouteInfo | None = None
        admission = None
        usage = None
        ok = False
        chunks = None
        try:
            req = conv.chat_request_to_dict(request)
            include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
            admission = await self.gate.admit(api_key_from(context), request_id, req)
            info, chunks = await self.router.stream(req)
            await context.send_initial_metadata(_route_metadata(info, request_id))
            async for chunk in chunks:
                if not chunk.get("choices") and chunk.get("usage") is not None:
                    usage = chunk["usage"]
                    if not include_usage:
                        continue
                yield conv.chat_chunk_to_proto(chunk)
            ok = True
        except GatewayError as err:
            if info is None:
                context.set_trailing_metadata(_route_metadata(info, request_id))
            await abort(context, err)
        except Exception as exc:
            await abort(context, internal_error(exc))
        finally:
            if chunks is not None and hasattr(chunks, "aclose"):
                await chunks.aclose()
            if admission is not None:
                await self.gate.settle(admission, usage=usage, route=info, success=ok)

    async def Embeddings(self, request, context: grpc.aio.ServicerContext):
        request_id = request_id_from(context)
        info: RouteInfo | None = None
        admission = None
        usage = None
        ok = False
        try:
            req = conv.embeddings_request_to_dict(request)
            admission = await self.gate.admit(api_key_from(context), request_id, req)
            response, info = await self.router.embed(req)
            usage = response.get("usage")
            ok = True
            context.set_trailing_metadata(_route_metadata(info, request_id))
            return conv.embeddings_response_to_proto(response)
        except GatewayError as err:
            context.set_trailing_metadata(_route_metadata(info, request_id))
            await abort(context, err)
        except Exception as exc:  # a bug, not a client mistake: log it, answer a clean 500
            await abort(context, internal_error(exc))
        finally:
            if admission is not None:
                await self.gate.settle(admission, usage=usage, route=info, success=ok)

    async def ListModels(self, request, context: grpc.aio.ServicerContext):
        try:
            await self.gate.authorize(api_key_from(context))
        except GatewayError as err:
            await abort(context, err)
        now = int(time.time())
        return router_pb2.ListModelsResponse(
            data=[router_pb2.ModelInfo(id=g, created=now, owned_by="gemgate") for g in self.router.model_groups()]
        )


def internal_error(exc: BaseException) -> GatewayError:
    log.exception("unexpected error", exc_info=exc)
    return GatewayError(ErrorKind.INTERNAL, "internal error in router_service")
