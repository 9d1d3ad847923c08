"""RouterService gRPC servicer: transport only.

Per RPC: proto -> OpenAI dict, then the shared admit / route / settle flow of
router_service/call_scope.py (CallScope; new RPC handlers in their own modules reuse it), dict ->
proto. Errors leave as gRPC status +
ErrorInfo (gemgate.grpc_errors); anything unexpected is logged and answered as a clean INTERNAL.
"""

from __future__ import annotations

import logging
import time
from contextlib import aclosing

import grpc

from gemgate import offload
from gemgate import openai_proto as conv
from gemgate.errors import GatewayError
from gemgate.grpc_errors import abort
from gemgate.v1 import router_pb2, router_pb2_grpc
from router_service.budget_client import access_group_map, model_allowed
from router_service.call_scope import (  # noqa: F401  (re-exported for RPC handler modules)
    BackgroundTasks, CallScope, StreamedOutput, api_key_from, apply_alias, internal_error,
)
from router_service.deployment_health import HealthRPCs
from router_service.native_rpcs import NativeRPCs
from router_service.ready_batches import RouteHead, one_by_one, ready_batches
from router_service.responses.rpc import ResponsesRPCs
from router_service.responses.store import MemoryResponseStore
from router_service.router import Router

log = logging.getLogger("gemgate.router")


class RouterServicer(ResponsesRPCs, NativeRPCs, HealthRPCs, router_pb2_grpc.RouterServiceServicer):
    def __init__(self, router: Router, gate, usage=None, response_store=None, cache=None) -> None:
        self.router = router
        self.cache = cache  # router_service/response_cache.ResponseCache, or None
        self.gate = gate
        self.usage = usage
        self.response_store = response_store if response_store is not None else MemoryResponseStore()
        self.settlements = BackgroundTasks()
        try:  # budget_service keeps a spend log (database_url): settlements carry its facts
            self.keeps_log = router.config.database_url() is not None
        except Exception:  # noqa: BLE001 - an invalid URL stops budget_service itself; send the facts anyway
            self.keeps_log = True

    async def ChatCompletion(self, request, context: grpc.aio.ServicerContext):
        return await self._unary(context, "chat", request, conv.chat_request_to_dict, self.router.chat,
                                 conv.chat_response_to_proto)

    async def StreamChatCompletion(self, request, context: grpc.aio.ServicerContext):
        async with aclosing(self._chat_stream(request, context, one_by_one, context.send_initial_metadata)) as protos:
            async for batch in protos:
                yield batch[0]

    async def StreamChatCompletionChunks(self, request, context: grpc.aio.ServicerContext):
        """The chat stream with every chunk at hand in one message (router_service/ready_batches.py),
        the route facts in the first message (not a separate initial-metadata write)."""
        head = RouteHead()
        async with aclosing(self._chat_stream(request, context, ready_batches, head)) as protos:
            async for batch in protos:
                yield router_pb2.ChatCompletionChunkBatch(chunks=batch, route=head.take())

    async def _chat_stream(self, request, context: grpc.aio.ServicerContext, grouped, head):
        """A chat stream's proto chunks, in non-empty lists as `grouped` (one_by_one / ready_batches)
        forms them; `head(route metadata)` is awaited once routed, before the first chunk."""
        scope = CallScope(self, context, "chat", stream=True)
        chunks = None
        streamed = StreamedOutput()
        try:
            req = await offload.cpu(request.ByteSize(), conv.chat_request_to_dict, request)
            include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
            await scope.admit(req)
            scope.info, chunks = await self.router.stream(req, scope.guard)
            await head(scope.metadata())
            async with aclosing(grouped(chunks)) as groups:  # closed (its task stopped) before chunks is
                async for group in groups:
                    out = []
                    for chunk in group:
                        if streamed.note(scope, chunk) and not include_usage:
                            continue  # the usage-only chunk, not asked for
                        out.append(conv.chat_chunk_to_proto(chunk))
                    if out:
                        yield out
            scope.ok = True
            scope.settle()
            context.set_trailing_metadata(scope.metadata())
        except Exception as exc:
            await scope.fail(exc)
        finally:
            await scope.close_stream(chunks, streamed)

    async def Embeddings(self, request, context: grpc.aio.ServicerContext):
        return await self._unary(context, "embeddings", request, conv.embeddings_request_to_dict, self.router.embed,
                                 conv.embeddings_response_to_proto)

    async def _unary(self, context: grpc.aio.ServicerContext, call_type: str, request, to_dict, route, to_proto):
        """One unary RPC: proto -> dict, admit, route, price + settle, record, dict -> proto."""
        scope = CallScope(self, context, call_type, stream=False)
        try:
            req = await offload.cpu(request.ByteSize(), to_dict, request)
            req.pop("stream", None)
            await scope.admit(req, cacheable=True)
            response, scope.info = await scope.route(route, req)
            scope.usage, scope.ok = response.get("usage"), True
            scope.record.with_response(response)
            scope.settle()
            context.set_trailing_metadata(scope.metadata())
            return to_proto(response)
        except Exception as exc:
            await scope.fail(exc)
        finally:
            scope.close()

    async def ListModels(self, request, context: grpc.aio.ServicerContext):
        try:
            identity = await self.gate.authorize(api_key_from(context))
        except GatewayError as err:
            await abort(context, err)
        groups = self.router.model_groups()
        if identity is not None and not identity.is_master:
            names = groups + sorted(a for a in identity.aliases if a not in groups)
            ags = access_group_map(self.router.config)  # model_info.access_groups named by the key
            groups = [n for n in names if model_allowed(identity, identity.aliases.get(n, n), ags)]  # key + team
        now = int(time.time())
        return router_pb2.ListModelsResponse(
            data=[router_pb2.ModelInfo(id=g, created=now, owned_by="gemgate") for g in groups]
        )
