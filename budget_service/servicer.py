"""BudgetService gRPC servicer: transport only (proto <-> dicts); rules live in the ledger."""

from __future__ import annotations

import asyncio
import functools
import logging

import grpc

from budget_service import convert, spendlog
from budget_service.ledger import Ledger, key_id
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import abort, to_status_bytes
from gemgate.v1 import budget_pb2, budget_pb2_grpc

log = logging.getLogger("gemgate.budget")


async def _answer(context: grpc.aio.ServicerContext, name: str, work):
    """`await work`; a GatewayError ends the RPC with its status, anything else (a bug) is logged
    and ends it with a clean INTERNAL."""
    try:
        return await work
    except GatewayError as err:
        await abort(context, err)
    except Exception as exc:
        log.exception("unexpected error in %s", name, exc_info=exc)
        await abort(context, GatewayError(ErrorKind.INTERNAL, "internal error in budget_service"))


def _rpc(fn):
    @functools.wraps(fn)
    async def wrapper(self, request, context: grpc.aio.ServicerContext):
        return await _answer(context, fn.__name__, fn(self, request))

    return wrapper


async def _item(handle, item):
    """One item of a batch RPC: its reply, or its error as a serialized status (bytes)."""
    try:
        return await handle(item)
    except GatewayError as err:
        return to_status_bytes(err)
    except Exception as exc:  # a bug: log it, answer this item a clean INTERNAL
        log.exception("unexpected error in a batch item", exc_info=exc)
        return to_status_bytes(GatewayError(ErrorKind.INTERNAL, "internal error in budget_service"))


class BudgetServicer(budget_pb2_grpc.BudgetServiceServicer):
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._idle_streams: set[asyncio.Task] = set()  # ReserveStream handlers waiting for a message
        self._closing = False

    async def _key_info(self, doc: dict) -> budget_pb2.KeyInfo:
        spend = await self.ledger.period_spend("key", key_id(doc), doc)
        total = await self.ledger.store.stat_one("key", key_id(doc))
        return convert.key_info(doc, spend=spend, total=total, reset_at=self.ledger.reset_at(doc))

    async def _entity_info(self, kind: str, doc: dict) -> budget_pb2.EntityInfo:
        spend = await self.ledger.period_spend(kind, doc["id"], doc)
        total = await self.ledger.store.stat_one(kind, doc["id"])
        keys = [convert.key_info(k) for k in await self.ledger.store.get_docs("key", await self.ledger.store.ids("key"))
                if k.get(f"{kind}_id") == doc["id"]]
        return convert.entity_info(doc, spend=spend, total=total, reset_at=self.ledger.reset_at(doc), keys=keys)

    @_rpc
    async def Authorize(self, request):
        is_master, doc, team = await self.ledger.authorize(request.api_key, request.model)
        return budget_pb2.AuthorizeResponse(identity=convert.identity(is_master, doc, team))

    @_rpc
    async def Reserve(self, request):
        return await self._reserve(request)

    async def _reserve(self, request) -> budget_pb2.ReserveResponse:
        is_master, doc, reserved, team = await self.ledger.reserve(
            request.api_key, request.request_id, request.model, request.estimated_cost_micros,
            request.estimated_tokens, router_id=request.router_id, lease=request.lease_seconds, extend=request.extend,
            started=request.started,
        )
        return budget_pb2.ReserveResponse(identity=convert.identity(is_master, doc, team), reserved_micros=reserved)

    @_rpc
    async def ReserveBatch(self, request):
        return await self._reserve_batch(request)

    async def ReserveStream(self, requests, context):
        """ReserveBatch over one long-lived call: each message answered in order, as ReserveBatch
        answers it; an error ends the stream with ReserveBatch's status."""
        task = asyncio.current_task()
        while not self._closing:
            self._idle_streams.add(task)  # only while waiting for the next message
            try:
                request = await anext(requests)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if self._closing:  # end_streams(): end this idle stream with OK
                    return
                raise
            finally:
                self._idle_streams.discard(task)
            yield await _answer(context, "ReserveStream", self._reserve_batch(request))

    def end_streams(self) -> None:
        """Shutting down: end the ReserveStream calls that wait for their next message (with OK) and
        the others once their current batch is answered, so the server's stop needs no grace period
        for them. Their routers open new streams, which then end at once."""
        self._closing = True
        for task in list(self._idle_streams):
            task.cancel()

    async def _reserve_batch(self, request) -> budget_pb2.ReserveBatchResponse:
        staged = await self._stage_logs(request.settles)
        todo = [i for i, err in enumerate(staged) if not isinstance(err, bytes)]
        settled, results = await self.ledger.exchange(_settle_items(request.settles, todo), [dict(
            api_key=it.api_key, request_id=it.request_id, model=it.model, est_cost=it.estimated_cost_micros,
            est_tokens=it.estimated_tokens, router_id=it.router_id, lease=it.lease_seconds, extend=it.extend,
            started=it.started) for it in request.items])
        return budget_pb2.ReserveBatchResponse(items=[
            budget_pb2.ReserveOutcome(error=to_status_bytes(r)) if isinstance(r, GatewayError) else
            budget_pb2.ReserveOutcome(ok=budget_pb2.ReserveResponse(
                identity=convert.identity(r[0], r[1], r[3]), reserved_micros=r[2])) for r in results],
            settled=_settle_outcomes(staged, todo, settled))

    @_rpc
    async def SettleBatch(self, request):
        staged = await self._stage_logs(request.items)
        todo = [i for i, err in enumerate(staged) if not isinstance(err, bytes)]
        settled = await self.ledger.settle_batch(_settle_items(request.items, todo))
        return budget_pb2.SettleBatchResponse(items=_settle_outcomes(staged, todo, settled))

    async def _stage_logs(self, items) -> list:
        """Stage the spend-log entries of settlements (database_url set): per item None, or the
        serialized error that fails that item's settlement."""
        staged: list = [None] * len(items)
        if hasattr(self.ledger.store, "stage_log"):
            logged = [i for i, it in enumerate(items) if it.HasField("log")]
            for i, err in zip(logged, await asyncio.gather(*(_item(self._stage_log, items[i]) for i in logged))):
                staged[i] = err
        return staged

    async def _stage_log(self, request) -> None:
        await self.ledger.store.stage_log(request.request_id, spendlog.entry_to_json(request.log))

    @_rpc
    async def Heartbeat(self, request):
        marked = await self.ledger.heartbeat(request.router_id, request.lease_seconds, list(request.started_request_ids))
        return budget_pb2.HeartbeatResponse(marked=marked)

    @_rpc
    async def Settle(self, request):
        return await self._settle(request)

    async def _settle(self, request) -> budget_pb2.SettleResponse:
        if request.HasField("log") and hasattr(self.ledger.store, "stage_log"):  # database_url is set
            await self.ledger.store.stage_log(request.request_id, spendlog.entry_to_json(request.log))
        applied, charged = await self.ledger.settle(
            request.request_id, request.actual_cost_micros, request.actual_tokens, request.model, request.success
        )
        return budget_pb2.SettleResponse(applied=applied, charged_micros=charged)

    @_rpc
    async def GenerateKey(self, request):
        key, doc = await self.ledger.generate_key(request.api_key, convert.key_spec(request.spec), request.key)
        return budget_pb2.GenerateKeyResponse(key=key, info=convert.key_info(doc))

    @_rpc
    async def KeyInfo(self, request):
        doc = await self.ledger.key_info(request.api_key, request.key)
        return budget_pb2.KeyInfoResponse(info=await self._key_info(doc))

    @_rpc
    async def UpdateKey(self, request):
        doc = await self.ledger.update_key(request.api_key, request.key, convert.key_spec(request.spec))
        return budget_pb2.KeyInfoResponse(info=await self._key_info(doc))

    @_rpc
    async def DeleteKeys(self, request):
        return budget_pb2.DeleteKeysResponse(deleted_keys=await self.ledger.delete_keys(request.api_key, list(request.keys)))

    @_rpc
    async def ListKeys(self, request):
        docs = await self.ledger.list_keys(request.api_key, request.team_id, request.user_id)
        return budget_pb2.ListKeysResponse(keys=[convert.key_info(d) for d in docs])

    @_rpc
    async def RegenerateKey(self, request):
        key, doc = await self.ledger.regenerate_key(request.api_key, request.key)
        return budget_pb2.GenerateKeyResponse(key=key, info=await self._key_info(doc))

    @_rpc
    async def BlockKey(self, request):
        return budget_pb2.KeyInfoResponse(info=await self._key_info(await self.ledger.set_blocked(request.api_key, request.key, True)))

    @_rpc
    async def UnblockKey(self, request):
        return budget_pb2.KeyInfoResponse(info=await self._key_info(await self.ledger.set_blocked(request.api_key, request.key, False)))

    @_rpc
    async def NewTeam(self, request):
        doc = await self.ledger.new_entity(request.api_key, "team", request.id, convert.entity_spec(request.spec))
        return budget_pb2.EntityInfoResponse(info=await self._entity_info("team", doc))

    @_rpc
    async def TeamInfo(self, request):
        doc = await self.ledger.entity(request.api_key, "team", request.id)
        return budget_pb2.EntityInfoResponse(info=await self._entity_info("team", doc))

    @_rpc
    async def UpdateTeam(self, request):
        doc = await self.ledger.update_entity(request.api_key, "team", request.id, convert.entity_spec(request.spec))
        return budget_pb2.EntityInfoResponse(info=await self._entity_info("team", doc))

    @_rpc
    async def NewUser(self, request):
        doc = await self.ledger.new_entity(request.api_key, "user", request.id, convert.entity_spec(request.spec))
        return budget_pb2.EntityInfoResponse(info=await self._entity_info("user", doc))

    @_rpc
    async def UserInfo(self, request):
        doc = await self.ledger.entity(request.api_key, "user", request.id)
        return budget_pb2.EntityInfoResponse(info=await self._entity_info("user", doc))

    @_rpc
    async def Spend(self, request):
        total, rows = await self.ledger.spend_view(request.api_key, request.view)
        out = []
        for r in rows:
            mb = r.get("max_budget")
            out.append(budget_pb2.SpendRow(
                name=r["name"], token=r.get("token", ""), key_alias=r.get("key_alias", ""), spend=r["spend"] / 1e6,
                user_id=r.get("user_id", ""), team_id=r.get("team_id", ""),
                **({"max_budget": mb / 1e6} if mb is not None else {}),
            ))
        return budget_pb2.SpendResponse(total_spend=total / 1e6, rows=out)


def _settle_items(items, todo: list[int]) -> list[dict]:
    return [dict(request_id=items[i].request_id, cost=items[i].actual_cost_micros, tokens=items[i].actual_tokens,
                 model=items[i].model, success=items[i].success) for i in todo]


def _settle_outcomes(staged: list, todo: list[int], settled: list) -> list:
    """One SettleOutcome per settlement: its staging error, its ledger error, or what it charged."""
    results = list(staged)
    for i, r in zip(todo, settled):
        results[i] = r
    out = []
    for r in results:
        if isinstance(r, bytes):
            out.append(budget_pb2.SettleOutcome(error=r))
        elif isinstance(r, GatewayError):
            out.append(budget_pb2.SettleOutcome(error=to_status_bytes(r)))
        else:
            out.append(budget_pb2.SettleOutcome(ok=budget_pb2.SettleResponse(applied=r[0], charged_micros=r[1])))
    return out
