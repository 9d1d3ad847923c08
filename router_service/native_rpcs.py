"""RouterService RPCs for the providers' own APIs (Anthropic Messages, native Gemini): gRPC transport
only. Each runs the servicer's shared flow (`CallScope`: admit, route, price + settle exactly once,
usage record) with a `NativeCall` routed by `Router.native` / `Router.native_stream`."""

from __future__ import annotations

from contextlib import aclosing

import grpc

from gemgate import anthropic_proto as aconv
from gemgate import gemini_proto as gconv
from gemgate.config_names import ALL_MODELS
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import abort
from gemgate.errors import invalid
from gemgate.v1 import anthropic_pb2, gemini_native_pb2, router_pb2
from router_service.native.call import AnthropicCall, GeminiCall, NativeCall, split_gateway_keys
from router_service.ready_batches import RouteHead, one_by_one, ready_batches
from router_service.usage.tracking import mark_first_token


def _core():
    from router_service import servicer  # the shared flow lives there (imported late: it imports us)

    return servicer


def produced_chars(event: dict) -> int:
    """Characters of model output in one native stream event (to charge a stream cut short)."""
    total = 0
    delta = event.get("delta")
    if isinstance(delta, dict):
        for key in ("text", "thinking", "partial_json"):
            if isinstance(delta.get(key), str):
                total += len(delta[key])
    for cand in event.get("candidates") or ():
        for part in ((cand or {}).get("content") or {}).get("parts") or ():
            if isinstance(part.get("text"), str):
                total += len(part["text"])
            if part.get("functionCall"):
                total += len(str(part["functionCall"]))
    return total


def anthropic_call(request: anthropic_pb2.AnthropicMessagesRequest, config, op: str = "generate") -> AnthropicCall:
    body, gateway = split_gateway_keys(aconv.messages_request_to_dict(request))
    stream = bool(body.pop("stream", False))
    return AnthropicCall("anthropic", op, body, request.model, gateway, stream=stream, betas=tuple(request.betas),
                         drop_params=bool(config.litellm_settings.drop_params))


def gemini_call(request: gemini_native_pb2.GeminiGenerateRequest, config, op: str = "generate",
                stream: bool = False) -> GeminiCall:
    body, gateway = split_gateway_keys(gconv.generate_request_to_dict(request))
    return GeminiCall("gemini", op, body, request.model, gateway, stream=stream, api=request.api or "gemini",
                      drop_params=bool(config.litellm_settings.drop_params))


def embeddings_request(request: gemini_native_pb2.GeminiBatchEmbedRequest) -> dict:
    """Gemini embedContent / batchEmbedContents -> the OpenAI embeddings request the router serves."""
    texts: list[str] = []
    dims, task = set(), set()
    for i, r in enumerate(request.requests):
        parts = gconv.struct_to_dict(r.content).get("parts") or []
        if not parts or any(not isinstance(p, dict) or set(p) != {"text"} for p in parts):
            raise invalid("content.parts: only text parts can be embedded", f"requests[{i}].content.parts")
        texts.append(" ".join(str(p["text"]) for p in parts))
        if r.title:
            raise invalid("title is not supported by gemgate's embeddings (drop it or embed it in the text)",
                          f"requests[{i}].title")
        dims.add(r.output_dimensionality if r.HasField("output_dimensionality") else None)
        task.add(r.task_type or None)
    if len(dims) > 1 or len(task) > 1:
        raise invalid("all requests of a batch must share outputDimensionality and taskType", "requests")
    out: dict = {"model": request.model, "input": texts}
    (d,), (t,) = dims, task
    if d is not None:
        out["dimensions"] = d
    if t is not None:
        out["task_type"] = t
    return out


def embeddings_response_to_proto(d: dict) -> gemini_native_pb2.GeminiEmbedResponse:
    data = sorted(d.get("data") or [], key=lambda e: e.get("index", 0))
    return gemini_native_pb2.GeminiEmbedResponse(
        embeddings=[gemini_native_pb2.GeminiEmbedding(values=e.get("embedding") or []) for e in data])


def check_model_allowed(identity, model: str) -> str:
    """For calls that cost nothing (token counting): the key's aliases and model allowlist."""
    if identity is None:
        return model
    model = identity.aliases.get(model, model) if hasattr(identity, "aliases") else model
    allowed = set(getattr(identity, "models", ()) or ())
    if getattr(identity, "is_master", False) or not allowed or ALL_MODELS in allowed or model in allowed:
        return model
    raise GatewayError(ErrorKind.PERMISSION, f"this API key is not allowed to use model {model!r}",
                       param="model", code="model_not_allowed")


class NativeRPCs:
    """Mixed into RouterServicer (which provides router, gate, usage, settlements)."""

    async def _native_unary(self, context: grpc.aio.ServicerContext, call_type: str, make_call, to_proto):
        core = _core()
        scope = core.CallScope(self, context, call_type, stream=False)
        try:
            call: NativeCall = make_call()
            req = call.router_request()
            await scope.admit(req)
            call.group = req["model"]  # a key alias may have renamed it
            result, scope.info = await self.router.native(call, scope.guard)
            scope.usage, scope.ok = result.get("usage"), True
            scope.record.with_response({"id": (result["body"] or {}).get("id"), "usage": scope.usage})
            scope.settle()
            context.set_trailing_metadata(scope.metadata())
            return to_proto(result["body"])
        except Exception as exc:
            await scope.fail(exc)
        finally:
            scope.close()

    async def _native_stream(self, context: grpc.aio.ServicerContext, call_type: str, make_call, to_proto,
                             grouped=one_by_one, head=None):
        """The stream's protos in non-empty lists as `grouped` (router_service/ready_batches.py) forms
        them; `head(route metadata)` is awaited once routed (default: sent as initial metadata)."""
        core = _core()
        scope = core.CallScope(self, context, call_type, stream=True)
        items = None
        streamed = core.StreamedOutput()
        try:
            call: NativeCall = make_call()
            req = call.router_request()
            await scope.admit(req)
            call.group = req["model"]
            scope.info, items = await self.router.native_stream(call, scope.guard)
            await (head or context.send_initial_metadata)(scope.metadata())
            async with aclosing(grouped(items)) as groups:  # closed (its task stopped) before items is
                async for group in groups:
                    out = []
                    for item in group:
                        if "event" not in item:
                            scope.usage = item.get("usage")
                            continue
                        chars = produced_chars(item["event"])
                        if chars and not streamed.chars:
                            mark_first_token(scope.record)
                        streamed.chars += chars
                        out.append(to_proto(item["event"]))
                    if out:
                        yield out
            scope.ok = True
            scope.settle()
            context.set_trailing_metadata(scope.metadata())
        except Exception as exc:
            await scope.fail(exc)
        finally:
            await scope.close_stream(items, streamed)

    async def _count(self, context: grpc.aio.ServicerContext, make_call) -> dict:
        """Token counting: the key must be valid and allowed the model; nothing is charged."""
        core = _core()
        try:
            identity = await self.gate.authorize(core.api_key_from(context))
            call: NativeCall = make_call()
            call.group = check_model_allowed(identity, call.group)
            result, info = await self.router.native(call)
            context.set_trailing_metadata(tuple(info.headers().items()))
            return result["body"]
        except Exception as exc:
            err = exc if isinstance(exc, GatewayError) else core.internal_error(exc)
            await abort(context, err)

    # ---- Anthropic Messages ----
    async def AnthropicMessages(self, request, context):
        return await self._native_unary(context, "anthropic_messages",
                                        lambda: anthropic_call(request, self.router.config), aconv.message_to_proto)

    async def StreamAnthropicMessages(self, request, context):
        async with aclosing(self._native_stream(context, "anthropic_messages",
                                                lambda: anthropic_call(request, self.router.config),
                                                aconv.event_to_proto)) as lists:
            async for events in lists:
                for event in events:
                    yield event

    async def StreamAnthropicMessagesBatched(self, request, context):
        """StreamAnthropicMessages with every event at hand in one message, the route facts in the first."""
        head = RouteHead()
        async with aclosing(self._native_stream(context, "anthropic_messages",
                                                lambda: anthropic_call(request, self.router.config),
                                                aconv.event_to_proto, ready_batches, head)) as lists:
            async for events in lists:
                yield anthropic_pb2.AnthropicStreamEventBatch(events=events, route=head.take())

    async def AnthropicCountTokens(self, request, context):
        body = await self._count(context, lambda: anthropic_call(request, self.router.config, op="count_tokens"))
        return anthropic_pb2.AnthropicCountTokensResponse(input_tokens=int(body.get("input_tokens") or 0))

    # ---- native Gemini ----
    async def GeminiGenerateContent(self, request, context):
        return await self._native_unary(context, "gemini_generate_content",
                                        lambda: gemini_call(request, self.router.config), gconv.response_to_proto)

    async def StreamGeminiGenerateContent(self, request, context):
        async with aclosing(self._native_stream(context, "gemini_generate_content",
                                                lambda: gemini_call(request, self.router.config, stream=True),
                                                gconv.response_to_proto)) as lists:
            async for events in lists:
                for event in events:
                    yield event

    async def StreamGeminiGenerateContentBatched(self, request, context):
        """StreamGeminiGenerateContent with every response at hand in one message, the route facts in the first."""
        head = RouteHead()
        async with aclosing(self._native_stream(context, "gemini_generate_content",
                                                lambda: gemini_call(request, self.router.config, stream=True),
                                                gconv.response_to_proto, ready_batches, head)) as lists:
            async for responses in lists:
                yield gemini_native_pb2.GeminiGenerateResponseBatch(responses=responses, route=head.take())

    async def GeminiCountTokens(self, request, context):
        body = await self._count(context, lambda: gemini_call(request.generate_content_request, self.router.config,
                                                              op="count_tokens"))
        return gconv.count_response_to_proto(body)

    async def GeminiEmbedContent(self, request, context):
        return await self._unary(context, "embeddings", request, embeddings_request, self.router.embed,
                                 embeddings_response_to_proto)

    async def GeminiModels(self, request, context):
        listed = await self.ListModels(router_pb2.ListModelsRequest(), context)
        models = [gemini_native_pb2.GeminiModel(
            name=f"models/{m.id}", base_model_id=m.id, version="gemgate", display_name=m.id,
            supported_generation_methods=["generateContent", "streamGenerateContent", "countTokens", "embedContent",
                                          "batchEmbedContents"]) for m in listed.data]
        if request.name:
            wanted = request.name.removeprefix("models/")
            models = [m for m in models if m.base_model_id == wanted]
            if not models:
                await abort(context, GatewayError(ErrorKind.MODEL_NOT_FOUND, f"models/{wanted} is not found", param="model"))
        return gemini_native_pb2.GeminiModelList(models=models)
