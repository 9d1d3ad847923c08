"""The router's side of budget enforcement: admit before the upstream call, settle after.

`BudgetGate` talks to budget_service over gRPC; `OpenGate` is used when no master_key is configured
(no authentication, nothing to enforce).

    gate = BudgetGate(address, deadline=config.general_settings.budget_deadline, config=config)
    admission = await gate.admit(api_key, request_id, request)            # raises GatewayError
    try: ... finally: await gate.settle(admission, usage=usage, route=route_info, success=ok)

Admission happens before a deployment is chosen, so the worst-case cost is estimated with the most
expensive deployment of the request's model group (from `config`, or the `deployments` argument;
without either, with the pricing table for the model name). Settle never raises: it is retried with
backoff on transient failures, shielded from cancellation, and idempotent by request id (the
service applies it at most once). A request that failed without usage is charged 0; one that
succeeded without usage is charged its full reservation (conservative).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from gemgate import metrics
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import budget_pb2, budget_pb2_grpc
from router_service import cost

log = logging.getLogger("gemgate.router.budget")

SETTLE_ATTEMPTS = 4
SETTLE_BACKOFF = 0.2  # seconds, doubled per attempt


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


class OpenGate:
    enforces = False  # nothing to settle with a budget service

    async def authorize(self, api_key: str | None) -> None:
        return None

    async def admit(self, api_key: str | None, request_id: str, request: dict, deployments=None) -> Admission:
        return Admission(request_id, model=str(request.get("model", "")))

    async def settle(self, admission: Admission, *, usage: dict | None, route, success: bool) -> int:
        """Nothing to enforce; returns the request's cost for reporting."""
        if admission is None or admission.settled:
            return 0
        admission.settled = True
        return charge_micros(admission, usage=usage, route=route, success=success)

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


def estimate(request: dict, deployments: Sequence | None) -> tuple[int, int]:
    """(worst-case cost in micro-USD, worst-case tokens) over the candidate deployments; `n`
    choices multiply the output."""
    model = str(request.get("model", ""))
    prompt = cost.estimate_prompt_tokens(request)
    max_out = cost.requested_max_output(request)
    n = request.get("n") if isinstance(request.get("n"), int) and request.get("n", 0) > 1 else 1
    candidates = list(deployments or []) or [None]
    best_cost, best_tokens = 0, 0
    for dep in candidates:
        c = cost.estimate_max_cost_micros(dep, model, prompt, max_out)
        c += (n - 1) * cost.estimate_max_cost_micros(dep, model, 0, max_out)
        limit = cost.price_for(model, dep).max_output_tokens
        out = limit if max_out is None else min(max_out, limit)
        best_cost, best_tokens = max(best_cost, c), max(best_tokens, prompt + n * out)
    return best_cost, best_tokens


def rpc_error(exc: grpc.aio.AioRpcError) -> GatewayError:
    """budget_service's own errors keep their kind; no answer in time means unavailable (503)."""
    if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
        return GatewayError(ErrorKind.UNAVAILABLE, "budget service did not answer in time; request not admitted",
                            retry_after=1.0)
    return from_rpc_error(exc)


class BudgetGate:
    enforces = True

    def __init__(self, address: str, *, deadline: float = 2.0, config=None, channel: grpc.aio.Channel | None = None) -> None:
        self.channel = channel or grpc.aio.insecure_channel(address)
        self.stub = budget_pb2_grpc.BudgetServiceStub(self.channel)
        self.deadline = deadline
        # a little over the service's own Redis deadline, so its UNAVAILABLE arrives first
        self.timeout = deadline + 0.5
        self.groups = config.groups() if config is not None else {}
        self._resolve = config.deployments_for if config is not None else self.groups.get

    async def authorize(self, api_key: str | None) -> budget_pb2.KeyIdentity:
        if not api_key:
            raise missing_key()
        try:
            with metrics.budget_call_timer("Authorize"):
                resp = await self.stub.Authorize(budget_pb2.AuthorizeRequest(api_key=api_key), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise rpc_error(exc) from None
        return resp.identity

    async def admit(self, api_key: str | None, request_id: str, request: dict, deployments=None) -> Admission:
        """Reserve the worst-case cost of `request`. `deployments`: the candidate
        gemgate.config.Deployment list (default: the model group's deployments from config)."""
        if not api_key:
            raise missing_key()
        model = str(request.get("model", ""))
        if deployments is None:
            deployments = self._resolve(model)  # its group, an alias's group or wildcard deployments
        est_cost, est_tokens = estimate(request, deployments)
        try:
            with metrics.budget_call_timer("Reserve"):
                resp = await self.stub.Reserve(
                    budget_pb2.ReserveRequest(api_key=api_key, request_id=request_id, model=model,
                                              estimated_cost_micros=est_cost, estimated_tokens=est_tokens),
                    timeout=self.timeout,
                )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error(exc) from None
        return Admission(request_id, resp.identity, model, resp.reserved_micros, est_tokens)

    async def settle(self, admission: Admission, *, usage: dict | None, route, success: bool,
                     cost_micros: int | None = None, log: budget_pb2.SpendLogEntry | None = None) -> int:
        """Charge the request; returns the micro-USD charged (0 if it was already settled).
        `cost_micros`: the price the caller already computed with `charge_micros`."""
        if admission is None or admission.settled:
            return 0
        admission.settled = True
        actual = cost_micros if cost_micros is not None else charge_micros(
            admission, usage=usage, route=route, success=success)
        tokens = int((usage or {}).get("total_tokens") or 0)
        req = budget_pb2.SettleRequest(request_id=admission.request_id, actual_cost_micros=actual,
                                       actual_tokens=tokens, model=admission.model, success=success, log=log)
        # shield: a cancelled caller (client disconnect) must not abort the settlement
        await asyncio.shield(self._settle_with_retries(req))
        return actual

    async def _settle_with_retries(self, req: budget_pb2.SettleRequest) -> None:
        delay = SETTLE_BACKOFF
        for attempt in range(1, SETTLE_ATTEMPTS + 1):
            try:
                with metrics.budget_call_timer("Settle"):
                    await self.stub.Settle(req, timeout=self.timeout)
                return
            except grpc.aio.AioRpcError as exc:
                err = rpc_error(exc)
                if not err.retryable or attempt == SETTLE_ATTEMPTS:
                    log.error("settle of request %s failed (%s); its reservation will expire and be charged in full",
                              req.request_id[:64], err.kind.name)
                    return
            await asyncio.sleep(delay)
            delay *= 2

    async def close(self) -> None:
        await self.channel.close()
