"""RouterService gRPC servicer: transport only.

Per RPC: proto -> OpenAI dict, budget admit, route (router.py), settle (exactly once, also on
error or cancel), usage record (off the request path), dict -> proto. Errors leave as gRPC status +
ErrorInfo (gemgate.grpc_errors); anything unexpected is logged and answered as a clean INTERNAL.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import grpc

from gemgate import openai_proto as conv
from gemgate.config import ALL_MODELS
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import abort
from gemgate.v1 import router_pb2, router_pb2_grpc
from router_service.budget_client import charge_micros
from router_service import request_policy
from router_service.cost import estimate_prompt_tokens
from router_service.native_rpcs import NativeRPCs
from router_service.providers import upstream_extras
from router_service.responses.rpc import ResponsesRPCs
from router_service.responses.store import MemoryResponseStore
from router_service.router import RouteInfo, Router
from router_service.spend_entry import spend_entry
from router_service.usage.record import new_record
from router_service.usage.tracking import mark_first_token, track

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


def apply_alias(req: dict, identity) -> None:
    """A virtual key's `aliases` map a model name the client sends to a configured model group."""
    if identity is not None and req.get("model") in identity.aliases:
        req["model"] = identity.aliases[req["model"]]


def internal_error(exc: BaseException) -> GatewayError:
    log.exception("unexpected error", exc_info=exc)
    return GatewayError(ErrorKind.INTERNAL, "internal error in router_service")


class StreamedOutput:
    """What a stream has delivered so far, to charge a stream that ends without final usage."""

    def __init__(self) -> None:
        self.chars = 0

    def add(self, chunk: dict) -> None:
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            self.chars += len(delta.get("content") or "") + len(delta.get("reasoning_content") or "")
            for call in delta.get("tool_calls") or ():
                fn = call.get("function") or {}
                self.chars += len(fn.get("name") or "") + len(fn.get("arguments") or "")

    def estimated_usage(self, request: dict) -> dict:
        prompt = estimate_prompt_tokens(request)
        completion = -(-self.chars // 3)  # conservative: ~3 characters per token, rounded up
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class BackgroundTasks:
    """Tasks that must finish even though nobody awaits them (settlements); drained on shutdown."""

    def __init__(self) -> None:
        self.pending: set[asyncio.Task] = set()

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        if self.pending:
            await asyncio.wait(set(self.pending), timeout=timeout)


class CallScope:
    """The life of one RPC: admission, route facts, usage, settlement and the usage record."""

    def __init__(self, servicer: "RouterServicer", context: grpc.aio.ServicerContext, call_type: str, stream: bool) -> None:
        self.gate, self.usage_sink, self.settlements = servicer.gate, servicer.usage, servicer.settlements
        self.config = servicer.router.config
        fwd = request_policy.forwarded_headers(context.invocation_metadata(), self.config)
        if fwd:
            upstream_extras.FORWARDED.set(fwd)  # this RPC's task only
        self.context = context
        self.call_type, self.stream = call_type, stream
        self.request_id = request_id_from(context)
        self.api_key = api_key_from(context)
        self.admission = None
        self.info: RouteInfo | None = None
        self.usage: dict | None = None
        self.ok = False
        self.error: BaseException | None = None
        self.cost_micros: int | None = None
        self.record = None
        self.request: dict | None = None

    async def admit(self, req: dict) -> None:
        self.request = req
        self.record = new_record(req.get("model", ""), request_id=self.request_id, call_type=self.call_type,
                                 stream=self.stream).with_request(req)
        self.admission = await self.gate.admit(self.api_key, self.request_id, req)
        request_policy.check_mock_params(req, self.admission.identity, self.gate.enforces, self.config)
        apply_alias(req, self.admission.identity)

    def metadata(self) -> tuple[tuple[str, str], ...]:
        pairs = {"x-gemgate-request-id": self.request_id}
        if self.info is not None:
            pairs.update(self.info.headers())
        if self.cost_micros is not None:
            pairs["x-gemgate-response-cost"] = f"{self.cost_micros / 1_000_000:.6f}"
        return tuple(pairs.items())

    def settle(self) -> None:
        """Price the request now (for the cost header) and settle it with the budget service in the
        background, exactly once: the client does not wait for the ledger write. Until it lands the
        reservation still counts, so budgets stay conservative; settle retries and is idempotent."""
        if self.admission is None or self.cost_micros is not None:
            return
        self.cost_micros = charge_micros(self.admission, usage=self.usage, route=self.info, success=self.ok)
        if self.gate.enforces:
            self.settlements.spawn(
                self.gate.settle(self.admission, usage=self.usage, route=self.info, success=self.ok,
                                 cost_micros=self.cost_micros, log=self.spend_entry()))

    def spend_entry(self):
        """This request's spend-log facts (stored when budget_service has a database)."""
        rec = self.record
        return spend_entry(call_type=self.call_type, request=self.request, identity=self.admission.identity,
                           info=self.info, usage=self.usage, start_time=rec.start_time if rec else time.time(),
                           ok=self.ok, error=self.error, stream=self.stream, response_model=rec.model if rec else "")

    async def fail(self, exc: BaseException) -> None:
        err = exc if isinstance(exc, GatewayError) else internal_error(exc)
        self.error = err
        if self.info is None:
            self.info = RouteInfo.of(err)
        await abort(self.context, err, self.metadata())

    def close(self) -> None:
        self.settle()
        if self.record is None:
            return
        rec = self.record.with_route(self.info).with_usage(self.usage)
        if self.admission is not None:
            rec.with_identity(self.admission.identity)
        if self.cost_micros is not None:
            rec.with_cost(micros=self.cost_micros)
        if self.error is None and not self.ok:
            self.error = GatewayError(ErrorKind.UNAVAILABLE, "client cancelled the request", code="client_cancelled")
        track(self.usage_sink, rec, error=self.error, secrets=(self.api_key,) if self.api_key else ())


class RouterServicer(ResponsesRPCs, NativeRPCs, router_pb2_grpc.RouterServiceServicer):
    def __init__(self, router: Router, gate, usage=None, response_store=None) -> None:
        self.router = router
        self.gate = gate
        self.usage = usage
        self.response_store = response_store if response_store is not None else MemoryResponseStore()
        self.settlements = BackgroundTasks()

    async def ChatCompletion(self, request, context: grpc.aio.ServicerContext):
        return await self._unary(context, "chat", request, conv.chat_request_to_dict, self.router.chat,
                                 conv.chat_response_to_proto)

    async def StreamChatCompletion(self, request, context: grpc.aio.ServicerContext):
        scope = CallScope(self, context, "chat", stream=True)
        chunks = None
        streamed = StreamedOutput()
        try:
            req = conv.chat_request_to_dict(request)
            include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
            await scope.admit(req)
            scope.info, chunks = await self.router.stream(req)
            await context.send_initial_metadata(scope.metadata())
            async for chunk in chunks:
                if not chunk.get("choices") and chunk.get("usage") is not None:
                    scope.usage = chunk["usage"]
                    if not include_usage:
                        continue
                else:
                    if not streamed.chars:
                        mark_first_token(scope.record)
                    streamed.add(chunk)
                yield conv.chat_chunk_to_proto(chunk)
            scope.ok = True
            scope.settle()
            context.set_trailing_metadata(scope.metadata())
        except Exception as exc:
            await scope.fail(exc)
        finally:
            if chunks is not None and hasattr(chunks, "aclose"):
                await chunks.aclose()
            if scope.usage is None and streamed.chars:  # cut short after output was produced: charge it
                scope.usage = streamed.estimated_usage(scope.request)
            scope.close()

    async def Embeddings(self, request, context: grpc.aio.ServicerContext):
        return await self._unary(context, "embeddings", request, conv.embeddings_request_to_dict, self.router.embed,
                                 conv.embeddings_response_to_proto)

    async def _unary(self, context: grpc.aio.ServicerContext, call_type: str, request, to_dict, route, to_proto):
        """One unary RPC: proto -> dict, admit, route, price + settle, record, dict -> proto."""
        scope = CallScope(self, context, call_type, stream=False)
        try:
            req = to_dict(request)
            req.pop("stream", None)
            await scope.admit(req)
            response, scope.info = await route(req)
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
            allowed = set(identity.models)
            for dep in self.router.config.model_list:  # model_info.access_groups named by the key
                if allowed & set(dep.model_info.access_groups):
                    allowed.add(dep.model_name)
            if allowed and ALL_MODELS not in allowed:
                names = [n for n in names if n in allowed or identity.aliases.get(n) in allowed]
            groups = names
        now = int(time.time())
        return router_pb2.ListModelsResponse(
            data=[router_pb2.ModelInfo(id=g, created=now, owned_by="gemgate") for g in groups]
        )
