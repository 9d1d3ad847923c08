"""RouterService RPCs of the OpenAI Responses API (mixed into RouterServicer).

Create = load the stored context (previous_response_id, this key's only) -> pure translation to the
canonical chat request (gemgate.responses.to_chat) -> the servicer's CallScope flow (admit, route,
price + settle exactly once, usage record) -> Responses object / events -> store (when store=true).
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import aclosing

import grpc

from gemgate.errors import ErrorKind, GatewayError, invalid
from gemgate.grpc_errors import abort
from gemgate.responses import convert
from gemgate.responses.from_chat import response_from_chat
from gemgate.responses.ids import new_id
from gemgate.responses.stream import StreamTranslator
from gemgate.responses.to_chat import ChatPlan, to_chat
from gemgate.v1 import responses_pb2 as rpb
from router_service.ready_batches import RouteHead, one_by_one, ready_batches
from router_service.responses.store import owner_of

log = logging.getLogger("gemgate.router.responses")

MAX_LIST = 100
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _check_id(response_id: str, param: str) -> None:
    if not _ID.match(response_id or ""):
        raise invalid("not a valid response id", param)


def _not_found(response_id: str, param: str | None = None) -> GatewayError:
    return GatewayError(ErrorKind.NOT_FOUND, f"Response with id '{response_id}' not found.", param=param)


class ResponsesRPCs:
    """Needs `self.router`, `self.gate`, `self.response_store` (set by RouterServicer)."""

    response_store = None

    # ---------------------------------------------------------------- shared steps
    async def _plan(self, scope, body: dict) -> ChatPlan:
        history: list[dict] = []
        prev_id = body.get("previous_response_id")
        if prev_id:
            _check_id(prev_id, "previous_response_id")
            prev = await self.response_store.get(owner_of(scope.api_key), prev_id)
            if prev is None:
                await self.gate.authorize(scope.api_key)  # a bad key is a 401, not a 404
                raise _not_found(prev_id, "previous_response_id")
            history = list(prev.get("input_items") or ()) + list((prev.get("response") or {}).get("output") or ())
        plan = to_chat(body, history, drop_default=self.router.config.litellm_settings.drop_params)
        await scope.admit(plan.chat)
        return plan

    async def _store(self, scope, body: dict, plan: ChatPlan, response: dict) -> None:
        if body.get("store") is False:
            return
        try:
            await self.response_store.put(owner_of(scope.api_key), response["id"],
                                          {"response": response, "input_items": plan.input_items})
        except Exception:  # the answer is paid for and delivered; a lost store is logged, not fatal
            log.exception("could not store response %s", response["id"])

    # ---------------------------------------------------------------- create
    async def CreateResponse(self, request, context: grpc.aio.ServicerContext):
        from router_service.servicer import CallScope

        scope = CallScope(self, context, "chat", stream=False)
        try:
            body = convert.request_to_dict(request)
            plan = await self._plan(scope, body)
            completion, scope.info = await self.router.chat(plan.chat, scope.guard)
            scope.usage, scope.ok = completion.get("usage"), True
            scope.record.with_response(completion)
            scope.settle()
            response = response_from_chat(completion, body, response_id=new_id("resp"), created_at=int(time.time()),
                                          summary=plan.summary)
            await self._store(scope, body, plan, response)
            context.set_trailing_metadata(scope.metadata())
            return convert.response_from_dict(response)
        except Exception as exc:
            await scope.fail(exc)
        finally:
            scope.close()

    async def StreamResponse(self, request, context: grpc.aio.ServicerContext):
        async with aclosing(self._response_stream(request, context, one_by_one,
                                                  context.send_initial_metadata)) as lists:
            async for events in lists:
                for event in events:
                    yield event

    async def StreamResponseBatched(self, request, context: grpc.aio.ServicerContext):
        """StreamResponse with every event at hand in one message, the route facts in the first."""
        head = RouteHead()
        async with aclosing(self._response_stream(request, context, ready_batches, head)) as lists:
            async for events in lists:
                yield rpb.ResponseStreamEventBatch(events=events, route=head.take())

    async def _response_stream(self, request, context: grpc.aio.ServicerContext, grouped, head):
        """A streamed response's proto events in non-empty lists: the opening events alone, then
        those of each group of chat chunks as `grouped` (one_by_one / ready_batches) forms them, then
        the closing ones; `head(route metadata)` is awaited once routed, before the first event."""
        from router_service.servicer import CallScope, StreamedOutput

        scope = CallScope(self, context, "chat", stream=True)
        chunks = None
        streamed = StreamedOutput()
        translator: StreamTranslator | None = None
        try:
            body = convert.request_to_dict(request)
            plan = await self._plan(scope, body)
            scope.info, chunks = await self.router.stream(plan.chat, scope.guard)
            await head(scope.metadata())
            translator = StreamTranslator(body, new_id("resp"), int(time.time()), plan.summary)
            opening = [convert.event_from_dict(ev) for ev in translator.start()]
            if opening:
                yield opening
            async with aclosing(grouped(chunks)) as groups:  # closed (its task stopped) before chunks is
                async for group in groups:
                    out = []
                    for chunk in group:
                        streamed.note(scope, chunk)
                        out.extend(convert.event_from_dict(ev) for ev in translator.feed(chunk))
                    if out:
                        yield out
            scope.ok = True
            scope.settle()
            final = translator.finish()
            # stored before response.completed leaves, so the client can continue from it at once
            await self._store(scope, body, plan, translator.response)
            context.set_trailing_metadata(scope.metadata())
            if final:
                yield [convert.event_from_dict(ev) for ev in final]
        except Exception as exc:
            if translator is not None and not isinstance(exc, GeneratorExit):
                err = exc if isinstance(exc, GatewayError) else None
                code = err.code if err is not None else "server_error"
                message = err.message if err is not None else "internal error in router_service"
                try:
                    failed = [convert.event_from_dict(ev) for ev in translator.fail(code, message)]
                    if failed:
                        yield failed
                except Exception:  # the client is gone; the status below still ends the call
                    pass
            await scope.fail(exc)
        finally:
            await scope.close_stream(chunks, streamed)

    # ---------------------------------------------------------------- stored responses
    async def _owned(self, context, response_id: str) -> tuple[str, dict]:
        from router_service.servicer import api_key_from

        api_key = api_key_from(context)
        try:
            await self.gate.authorize(api_key)
            _check_id(response_id, "response_id")
            owner = owner_of(api_key)
            record = await self.response_store.get(owner, response_id)
            if record is None:
                raise _not_found(response_id)
            return owner, record
        except GatewayError as err:
            await abort(context, err)

    async def GetResponse(self, request, context: grpc.aio.ServicerContext):
        _, record = await self._owned(context, request.response_id)
        return convert.response_from_dict(record["response"])

    async def DeleteResponse(self, request, context: grpc.aio.ServicerContext):
        owner, _ = await self._owned(context, request.response_id)
        try:
            await self.response_store.delete(owner, request.response_id)
        except GatewayError as err:
            await abort(context, err)
        return rpb.DeleteResponseResponse(id=request.response_id, object="response", deleted=True)

    async def ListResponseInputItems(self, request, context: grpc.aio.ServicerContext):
        limit = request.limit if request.HasField("limit") else 20
        order = request.order or "desc"
        if not 1 <= limit <= MAX_LIST:
            await abort(context, invalid(f"limit must be between 1 and {MAX_LIST}", "limit"))
        if order not in ("asc", "desc"):
            await abort(context, invalid("order must be asc or desc", "order"))
        _, record = await self._owned(context, request.response_id)
        items = list(record.get("input_items") or ())
        if order == "desc":
            items.reverse()
        ids = [i.get("id") for i in items]
        start, end = 0, len(items)
        if request.after:
            if request.after not in ids:
                await abort(context, invalid(f"after: no item '{request.after}' in this response", "after"))
            start = ids.index(request.after) + 1
        if request.before:
            if request.before not in ids:
                await abort(context, invalid(f"before: no item '{request.before}' in this response", "before"))
            end = ids.index(request.before)
        window = items[start:end]
        page = window[:limit]
        out = rpb.ListResponseInputItemsResponse(has_more=len(window) > limit)
        out.data.extend(convert.item_from_dict(i) for i in page)
        if page:
            out.first_id, out.last_id = page[0].get("id", ""), page[-1].get("id", "")
        return out
