"""The router's side of budget enforcement: admit before the upstream call, settle after.

`BudgetGate` talks to budget_service over gRPC; `OpenGate` is used when no master_key is configured
(no authentication, nothing to enforce).

    gate = BudgetGate(address, deadline=config.general_settings.budget_deadline, config=config)
    admission = await gate.admit(api_key, request_id, request)     # raises GatewayError
    await gate.extend(admission, group)        # before an attempt on a pricier group (AttemptGuard)
    await gate.mark_started(admission)         # before the first upstream call
    try: ... finally: await gate.settle(admission, usage=usage, route=route_info, success=ok)

Money rules (README "Virtual keys, budgets, limits"):
- `request_id` is made by the router for every request (never the client's x-request-id).
- A reservation is an UPPER BOUND of what the attempt can cost (`estimate`): prompt tokens bounded by
  the bytes of every string the client sends plus per-part media bounds (cost.prompt_token_bound),
  output = max_tokens (thinking included; the deployment's max_tokens, else the model's maximum
  output, when the request sets none) times `n`, priced on the most expensive deployment of the
  group. Before a later attempt on a group that may cost more, `extend` reserves the difference or
  the request stops with budget_exceeded.
- Settlement is exactly once per request id and never lost while this process lives: `settle`
  retries (capped backoff) until budget_service answers, holding up to MAX_PENDING settlements in
  memory. If the router process dies, its lease lapses and budget_service's sweeper resolves its
  open reservations (released if never started, else charged in full).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from gemgate import metrics
from gemgate.config_names import ALL_MODELS
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import from_rpc_error, from_status_bytes
from gemgate.grpc_server import MESSAGE_OPTIONS
from gemgate.v1 import budget_pb2, budget_pb2_grpc
from router_service import cost
from router_service.background import BackgroundTasks
from router_service.coalesce import Coalescer
from router_service.reserve_stream import ReserveStream, StreamEnded, StreamTimeout
from router_service.router_lease import RouterLease

_log = logging.getLogger("gemgate.router.budget")

SETTLE_BACKOFF = 0.2      # seconds, doubled per attempt ...
SETTLE_BACKOFF_MAX = 5.0  # ... up to this
MAX_PENDING = 10_000      # settlements held while budget_service / Redis are unreachable
DEFAULT_LEASE = 15.0      # seconds; GEMGATE_ROUTER_LEASE overrides
# reconnect quickly when budget_service comes back (gRPC's default backoff grows to 120 s)
CHANNEL_OPTIONS = [*MESSAGE_OPTIONS, ("grpc.initial_reconnect_backoff_ms", 100),
                   ("grpc.min_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]

# a settlement waits this long for the router's next admissions, whose round trip then carries it;
# one router alone sees every next request of its clients, so it can wait longer than N workers
# (where a client's next request may reach another router while the slot is still held)
SETTLE_LINGER_ENV = "GEMGATE_SETTLE_LINGER_MS"
SETTLE_LINGER_MS = 20.0
SETTLE_LINGER_MS_WORKERS = 3.0  # what the CLI sets for --num_workers above 1


def settle_linger(environ=os.environ) -> float:
    """Seconds a settlement may wait to ride on the next admissions (GEMGATE_SETTLE_LINGER_MS,
    0 to 1000 ms; anything else is the default)."""
    try:
        ms = float(environ.get(SETTLE_LINGER_ENV, SETTLE_LINGER_MS))
    except ValueError:
        ms = SETTLE_LINGER_MS
    return (ms if 0 <= ms <= 1000 else SETTLE_LINGER_MS) / 1000


def missing_key() -> GatewayError:
    return GatewayError(
        ErrorKind.AUTHENTICATION,
        "No API key provided. Send it as 'Authorization: Bearer <key>'.",
        code="missing_api_key",
    )


@dataclass
class Admission:
    request_id: str
    identity: budget_pb2.KeyIdentity | None = None
    model: str = ""
    reserved_micros: int = 0
    estimated_tokens: int = 0
    settled: bool = field(default=False, repr=False)
    started: bool = field(default=False, repr=False)
    api_key: str = field(default="", repr=False)
    request: dict | None = field(default=None, repr=False)


def access_group_map(config) -> dict[str, set[str]]:
    """model_info.access_groups: access group name -> the model groups it allows."""
    out: dict[str, set[str]] = {}
    for dep in getattr(config, "model_list", None) or ():
        for ag in getattr(dep.model_info, "access_groups", None) or ():
            out.setdefault(ag, set()).add(dep.model_name)
    return out


def model_allowed(identity: budget_pb2.KeyIdentity | None, group: str,
                  access_groups: dict[str, set[str]] | None = None) -> bool:
    """May this key (and its team) be served by model group `group`? A name in the allowlist may
    also be one of the key's aliases that maps to the group, or an access group containing it."""
    if identity is None or identity.is_master:
        return True
    names = {group} | {a for a, g in identity.aliases.items() if g == group}
    ags = access_groups or {}
    for allowed in (identity.models, identity.team_models):
        if allowed and ALL_MODELS not in allowed and not names & set(allowed) \
                and not any(group in ags.get(m, ()) for m in allowed):
            return False
    return True


class OpenGate:
    enforces = False  # nothing to settle with a budget service

    async def authorize(self, api_key: str | None) -> None:
        return None

    async def admit(self, api_key: str | None, request_id: str, request: dict, deployments=None, *,
                    started: bool = False, free: bool = False) -> Admission:
        return Admission(request_id, model=str(request.get("model", "")), started=started)

    async def extend(self, admission: Admission, group: str, deployments=None) -> None:
        return None

    async def mark_started(self, admission: Admission) -> None:
        admission.started = True

    async def settle(self, admission: Admission, *, usage: dict | None, route, success: bool,
                     cost_micros: int | None = None, log=None) -> int:
        """Nothing to enforce; returns the request's cost for reporting."""
        if admission is None or admission.settled:
            return 0
        admission.settled = True
        return cost_micros if cost_micros is not None else charge_micros(
            admission, usage=usage, route=route, success=success)

    async def close(self) -> None:
        return None


def charge_micros(admission: Admission, *, usage: dict | None, route, success: bool) -> int:
    """The actual cost of a finished request: priced on the deployment that served it. A success
    without usage is charged its full reservation (conservative); a failure without usage is free."""
    dep = getattr(route, "deployment", None) if route is not None else None
    if usage is None and success:
        return admission.reserved_micros
    if dep is not None:
        return cost.cost_micros(dep.litellm_params.model, usage, dep)
    return cost.cost_micros(admission.model, usage, None)


def _input_window(dep) -> int:
    mi = getattr(dep, "model_info", None)
    return getattr(mi, "max_input_tokens", None) or cost.DEFAULT_INPUT_WINDOW


def estimate(request: dict, deployments: Sequence | None, model: str | None = None) -> tuple[int, int]:
    """(upper bound of the cost in micro-USD, of the tokens) of one attempt of `request` on any of
    `deployments` (the most expensive wins); `n` choices multiply the output."""
    model = model or str(request.get("model", ""))
    max_out = cost.requested_max_output(request)
    n = request.get("n") if isinstance(request.get("n"), int) and request.get("n", 0) > 1 else 1
    best_cost, best_tokens = 0, 0
    for dep in list(deployments or []) or [None]:
        prompt = cost.prompt_token_bound(request, _input_window(dep))
        limit = cost.price_for(model, dep).max_output_tokens
        if max_out is not None:
            out = min(max_out, limit)
        else:
            dep_default = getattr(getattr(dep, "litellm_params", None), "max_tokens", None)
            out = min(dep_default, limit) if isinstance(dep_default, int) and dep_default > 0 else limit
        c = cost.estimate_max_cost_micros(dep, model, prompt, out)
        c += (n - 1) * cost.estimate_max_cost_micros(dep, model, 0, out)
        best_cost, best_tokens = max(best_cost, c), max(best_tokens, prompt + n * out)
    return best_cost, best_tokens


def _outcomes(outcomes) -> list:
    """Per outcome of a batch reply: its `ok` message, or its error as a GatewayError."""
    return [o.ok if o.WhichOneof("result") == "ok" else from_status_bytes(o.error) for o in outcomes]


def not_in_time() -> GatewayError:
    return GatewayError(ErrorKind.UNAVAILABLE, "budget service did not answer in time; request not admitted",
                        retry_after=1.0)


def rpc_error(exc: grpc.aio.AioRpcError) -> GatewayError:
    """budget_service's own errors keep their kind; no answer in time means unavailable (503)."""
    if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
        return not_in_time()
    if exc.code() is grpc.StatusCode.UNAVAILABLE and not exc.trailing_metadata():
        return GatewayError(ErrorKind.UNAVAILABLE, "budget service is unreachable; request not admitted",
                            code="budget_service_unreachable", retry_after=1.0)
    return from_rpc_error(exc)


def _no_max_tokens_hint(err: GatewayError, request: dict, reserved: int) -> GatewayError:
    """The documented behaviour for a request without max_tokens that the budget cannot afford at
    the model's maximum output: 429 budget_exceeded saying to send max_tokens (never a silent cap)."""
    if err.kind is not ErrorKind.BUDGET_EXCEEDED or cost.requested_max_output(request) is not None:
        return err
    return GatewayError(
        ErrorKind.BUDGET_EXCEEDED,
        err.message.rstrip(".") + f". The request sets no max_tokens, so it was priced at the model's maximum "
        f"output (up to ${reserved / 1e6:.6f}); send max_tokens to be admitted for less.",
        param="max_tokens", code="max_tokens_required",
    )


class BudgetGate:
    enforces = True

    def __init__(self, address: str, *, deadline: float = 2.0, config=None, channel: grpc.aio.Channel | None = None,
                 router_id: str | None = None, lease: float | None = None) -> None:
        self.channel = channel or grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        self.stub = budget_pb2_grpc.BudgetServiceStub(self.channel)
        self.deadline = deadline
        # a little over the service's own Redis deadline, so its UNAVAILABLE arrives first
        self.timeout = deadline + 0.5
        self.groups = config.groups() if config is not None else {}
        self._resolve = config.deployments_for if config is not None else self.groups.get
        self.access_groups = access_group_map(config)
        self.router_id = router_id or uuid.uuid4().hex
        self.lease_seconds = lease or float(os.environ.get("GEMGATE_ROUTER_LEASE") or DEFAULT_LEASE)
        self.lease = RouterLease(self.stub, self.router_id, self.lease_seconds, timeout=self.timeout)
        self.pending = 0  # settlements not yet applied
        # concurrent admissions and settlements share round trips (router_service/coalesce.py)
        metrics.register_budget_methods()
        self._background = BackgroundTasks()  # releases of abandoned admissions
        # one admission batch out at a time: what queues meanwhile goes together (measured at c=32 with
        # keys: ~10% more requests/s than with two out, as batches grow from ~1.5 items)
        self._reserves = Coalescer(self._reserve_batch, max_in_flight=1)
        # a settlement waits up to settle_linger() for the next admissions, whose round trip carries it
        self._settles = Coalescer(self._settle_batch, max_in_flight=2, linger=settle_linger())
        self._carry_settles = True  # off if budget_service answers a ReserveBatch without them
        # admission batches go on one long-lived ReserveStream call (unary ReserveBatch if the
        # service lacks it); `reserve_rpc` is called as stub.ReserveBatch is
        self._stream = ReserveStream(self.stub.ReserveStream)
        self.reserve_rpc = self._stream
        self._closed = False

    async def authorize(self, api_key: str | None) -> budget_pb2.KeyIdentity:
        if not api_key:
            raise missing_key()
        try:
            with metrics.budget_call_timer("Authorize"):
                resp = await self.stub.Authorize(budget_pb2.AuthorizeRequest(api_key=api_key), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise rpc_error(exc) from None
        return resp.identity

    async def _reserve(self, api_key: str, request_id: str, model: str, est_cost: int, est_tokens: int,
                       extend: bool, started: bool = False) -> budget_pb2.ReserveResponse:
        self.lease.start()
        pending = asyncio.ensure_future(self._reserves.submit(budget_pb2.ReserveRequest(
            api_key=api_key, request_id=request_id, model=model, estimated_cost_micros=est_cost,
            estimated_tokens=est_tokens, router_id=self.router_id, lease_seconds=self.lease_seconds,
            extend=extend, started=started)))
        try:
            return await asyncio.shield(pending)
        except asyncio.CancelledError:
            # the caller gave up (client gone) while its batch was out: a reservation made anyway
            # would stay open for as long as this router lives, so it is released once it lands
            if not extend:
                pending.add_done_callback(lambda f: self._release_abandoned(f, request_id, model))
            raise

    def _release_abandoned(self, done: asyncio.Future, request_id: str, model: str) -> None:
        if done.cancelled() or done.exception() is not None:
            return  # nothing was reserved
        self._background.spawn(self._settle_until_applied(budget_pb2.SettleRequest(
            request_id=request_id, actual_cost_micros=0, actual_tokens=0, model=model, success=False)))

    async def _batch(self, method: str, request):
        """One ReserveBatch/SettleBatch exchange (its response)."""
        rpc = self.reserve_rpc if method == "ReserveBatch" else self.stub.SettleBatch
        try:
            with metrics.budget_call_timer(method):
                return await rpc(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            if rpc is self._stream and not self._stream.supported:  # an older budget_service
                _log.warning("budget_service has no ReserveStream; admissions go as unary ReserveBatch calls")
                self.reserve_rpc = self.stub.ReserveBatch
                return await self._batch(method, request)
            raise rpc_error(exc) from None
        except StreamTimeout:
            raise not_in_time() from None
        except StreamEnded:
            raise GatewayError(ErrorKind.UNAVAILABLE, "budget service is shutting down; request not admitted",
                               code="budget_service_unreachable", retry_after=1.0) from None

    async def _reserve_batch(self, items: list[budget_pb2.ReserveRequest]) -> list:
        """Admissions, carrying the settlements waiting to go (applied first, budget_service side)."""
        riders = self._settles.take() if self._carry_settles else []
        try:
            resp = await self._batch("ReserveBatch", budget_pb2.ReserveBatchRequest(
                items=items, settles=[req for req, _ in riders]))
        except BaseException as exc:
            # the settlements learn it as a retryable failure (their retry loop sends them again)
            Coalescer.deliver(riders, error=exc if isinstance(exc, GatewayError) else GatewayError(
                ErrorKind.UNAVAILABLE, "budget service call for settlements did not complete"))
            raise
        if riders and len(resp.settled) != len(riders):  # a budget_service that ignores `settles`
            self._carry_settles = False
            _log.warning("budget_service does not apply settlements sent with admissions; sending them alone")
            Coalescer.deliver(riders, error=GatewayError(ErrorKind.UNAVAILABLE, "settlements not applied"))
        else:
            Coalescer.deliver(riders, _outcomes(resp.settled))
        return _outcomes(resp.items)

    async def _settle_batch(self, items: list[budget_pb2.SettleRequest]) -> list:
        return _outcomes((await self._batch("SettleBatch", budget_pb2.SettleBatchRequest(items=items))).items)

    async def admit(self, api_key: str | None, request_id: str, request: dict, deployments=None, *,
                    started: bool = False, free: bool = False) -> Admission:
        """Reserve the upper bound of `request`'s cost on its model group. `deployments`: the
        candidate gemgate.config.Deployment list (default: the model group's deployments).
        `started`: the upstream call follows at once, so the reservation is marked started in the
        same step (no separate mark_started round trip). `free`: an answer from the response cache,
        admitted by the same checks but reserving nothing."""
        if not api_key:
            raise missing_key()
        model = str(request.get("model", ""))
        if deployments is None:
            deployments = self._resolve(model)  # its group, an alias's group or wildcard deployments
        est_cost, est_tokens = (0, 0) if free else estimate(request, deployments)
        try:
            resp = await self._reserve(api_key, request_id, model, est_cost, est_tokens, extend=False,
                                       started=started)
        except GatewayError as err:
            raise _no_max_tokens_hint(err, request, est_cost) from None
        return Admission(request_id, resp.identity, model, resp.reserved_micros, est_tokens, started=started,
                         api_key=api_key, request=request)

    async def extend(self, admission: Admission, group: str, deployments=None) -> None:
        """Before an attempt on `group`: raise the reservation to that group's upper bound if it is
        higher (BUDGET_EXCEEDED when the budgets have no room for the difference)."""
        if admission is None or admission.request is None:
            return
        if deployments is None:
            deployments = self._resolve(group)
        est_cost, est_tokens = estimate({**admission.request, "model": group}, deployments, group)
        if est_cost <= admission.reserved_micros:
            return
        try:
            resp = await self._reserve(admission.api_key, admission.request_id, admission.model, est_cost,
                                       est_tokens, extend=True)
        except GatewayError as err:
            raise _no_max_tokens_hint(err, admission.request, est_cost) from None
        admission.reserved_micros = resp.reserved_micros
        admission.estimated_tokens = max(admission.estimated_tokens, est_tokens)

    async def mark_started(self, admission: Admission) -> None:
        """Record (in budget_service, before the first upstream call) that this request's upstream
        call starts: a dead router's started reservations are charged, the others released.
        Raises UNAVAILABLE when that cannot be recorded (the request then does not start)."""
        if admission is None or admission.started:
            return
        await self.lease.mark_started(admission.request_id)
        admission.started = True

    async def settle(self, admission: Admission, *, usage: dict | None, route, success: bool,
                     cost_micros: int | None = None, log: budget_pb2.SpendLogEntry | None = None) -> int:
        """Charge the request; returns the micro-USD charged (0 if it was already settled).
        `cost_micros`: the price the caller already computed with `charge_micros`. Returns once
        budget_service applied it (retrying while it or Redis is unreachable)."""
        if admission is None or admission.settled:
            return 0
        admission.settled = True
        actual = cost_micros if cost_micros is not None else charge_micros(
            admission, usage=usage, route=route, success=success)
        if actual > admission.reserved_micros and admission.identity is not None:
            _log.warning("request %s cost %d micro-USD, above its reservation of %d", admission.request_id,
                        actual, admission.reserved_micros)
        tokens = int((usage or {}).get("total_tokens") or 0)
        req = budget_pb2.SettleRequest(request_id=admission.request_id, actual_cost_micros=actual,
                                       actual_tokens=tokens, model=admission.model, success=success, log=log)
        # shield: a cancelled caller (client disconnect) must not abort the settlement
        await asyncio.shield(self._settle_until_applied(req))
        return actual

    async def _settle_until_applied(self, req: budget_pb2.SettleRequest) -> None:
        self.pending += 1
        held = self.pending <= MAX_PENDING
        delay = SETTLE_BACKOFF
        attempt = 0
        try:
            while True:
                attempt += 1
                try:
                    await self._settles.submit(req)
                    if attempt > 1:
                        _log.info("settlement of request %s applied after %d attempts", req.request_id, attempt)
                    return
                except GatewayError as err:
                    if self._closed or not err.retryable or (not held and attempt >= 4):
                        _log.error("settlement of request %s dropped (%s%s); budget_service resolves its "
                                  "reservation when this router's lease lapses", req.request_id, err.kind.name,
                                  "" if held else f", more than {MAX_PENDING} pending")
                        return
                    if attempt == 1:
                        _log.warning("settlement of request %s pending: %s", req.request_id, err.message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, SETTLE_BACKOFF_MAX)
        finally:
            self.pending -= 1

    async def close(self) -> None:
        """Stop (after the caller drained its settlements): pending ones are then given up."""
        self._closed = True
        await self.lease.stop()
        await self._reserves.close()
        await self._settles.close()
        self._stream.close()
        await self.channel.close()
