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
from router_service.cost import estimate_prompt_tokens
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
            apply_alias(req, admission)
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
        streamed = StreamedOutput()
        try:
            req = conv.chat_request_to_dict(request)
            include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
            admission = await self.gate.admit(api_key_from(context), request_id, req)
            apply_alias(req, admission)
            info, chunks = await self.router.stream(req)
            await context.send_initial_metadata(_route_metadata(info, request_id))
            async for chunk in chunks:
                if not chunk.get("choices") and chunk.get("usage") is not None:
                    usage = chunk["usage"]
                    if not include_usage:
                        continue
                else:
                    streamed.add(chunk)
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
                if usage is None and streamed.chars:  # cut short after output was produced: charge it
                    usage = streamed.estimated_usage(req)
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
            apply_alias(req, admission)
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
            identity = await self.gate.authorize(api_key_from(context))
        except GatewayError as err:
            await abort(context, err)
        groups = self.router.model_groups()
        if identity is not None and not identity.is_master:
            names = groups + sorted(a for a in identity.aliases if a not in groups)
            allowed = set(identity.models)
            if allowed and ALL_MODELS not in allowed:
                names = [n for n in names if n in allowed or identity.aliases.get(n) in allowed]
            groups = names
        now = int(time.time())
        return router_pb2.ListModelsResponse(
            data=[router_pb2.ModelInfo(id=g, created=now, owned_by="gemgate") for g in groups]
        )


ALL_MODELS = "all-proxy-models"  # the key `models` entry that allows every group (LiteLLM's name)


def apply_alias(req: dict, admission) -> None:
    """A virtual key's `aliases` map a model name the client sends to a configured model group."""
    identity = getattr(admission, "identity", None)
    if identity is not None and req.get("model") in identity.aliases:
        req["model"] = identity.aliases[req["model"]]


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


def internal_error(exc: BaseException) -> GatewayError:
    log.exception("unexpected error", exc_info=exc)
    return GatewayError(ErrorKind.INTERNAL, "internal error in router_service")
