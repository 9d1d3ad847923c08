"""The admit / route / settle flow of one RouterService RPC, shared by every RPC handler.

    scope = CallScope(servicer, context, "chat", stream=False)
    try:
        req = ...                                  # the OpenAI-shaped request dict
        await scope.admit(req)                     # key, limits, reservation (raises GatewayError)
        response, scope.info = await router.chat(req, scope.guard)   # guard admits every attempt
        scope.usage, scope.ok = response.get("usage"), True
        scope.settle()                             # price now, settle in the background (exactly once)
        context.set_trailing_metadata(scope.metadata())
    except Exception as exc:
        await scope.fail(exc)
    finally:
        scope.close()                              # settles if not yet, usage record

The ledger identifies the request by `scope.request_id`, made here for every request; the client's
`x-request-id` is only a correlation label (echoed as `x-request-id`, kept in the usage record).
"""

from __future__ import annotations

import logging
import time
import uuid

import grpc

from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import abort
from router_service import request_policy
from router_service.attempt_guard import AttemptGuard
from router_service.background import BackgroundTasks  # noqa: F401  (re-exported)
from router_service.budget_client import charge_micros
from router_service.cost import prompt_token_bound
from router_service.providers import upstream_extras
from router_service.router import RouteInfo
from router_service.spend_entry import spend_entry
from router_service.usage.record import new_record
from router_service.usage.tracking import mark_first_token, track

log = logging.getLogger("gemgate.router")
UNKNOWN_MODEL = "unknown"


def api_key_from(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            scheme, _, token = value.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else value.strip()
        if key == "x-litellm-api-key":
            return value.strip()
    return None


def client_request_id_from(context: grpc.aio.ServicerContext) -> str:
    """The client's x-request-id: a label for correlating logs, never an identity."""
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id" and value:
            return "".join(c for c in value[:128] if c.isprintable())
    return ""


def new_request_id() -> str:
    """The gateway's id of one request: what the ledger reserves and settles under."""
    return "gg-" + uuid.uuid4().hex


def apply_alias(req: dict, identity) -> None:
    """A virtual key's `aliases` map a model name the client sends to a configured model group."""
    if identity is not None and req.get("model") in identity.aliases:
        req["model"] = identity.aliases[req["model"]]


def fallback_names(req: dict) -> list[str]:
    fbs = req.get("fallbacks")
    if not isinstance(fbs, list):
        return []
    return [f if isinstance(f, str) else f.get("model") for f in fbs
            if isinstance(f, str) or (isinstance(f, dict) and isinstance(f.get("model"), str))]


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
            self.chars += len((delta.get("content") or "").encode()) + len((delta.get("reasoning_content") or "").encode())
            for call in delta.get("tool_calls") or ():
                fn = call.get("function") or {}
                self.chars += len((fn.get("name") or "").encode()) + len((fn.get("arguments") or "").encode())

    def note(self, scope: "CallScope", chunk: dict) -> bool:
        """Account one chat chunk of `scope`'s stream: the usage-only chunk sets the request's usage
        (returns True), any other counts its output (the first one marks the time to first token)."""
        if not chunk.get("choices") and chunk.get("usage") is not None:
            scope.usage = chunk["usage"]
            return True
        if not self.chars:
            mark_first_token(scope.record)
        self.add(chunk)
        return False

    def estimated_usage(self, request: dict) -> dict:
        """Upper bounds (what the reservation was made of): the prompt bound, one token per byte out."""
        prompt = prompt_token_bound(request)
        completion = self.chars
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class CallScope:
    """The life of one RPC: admission, route facts, usage, settlement and the usage record.
    `servicer` needs `.gate`, `.usage` (usage sink) and `.settlements` (BackgroundTasks)."""

    def __init__(self, servicer, context: grpc.aio.ServicerContext, call_type: str, stream: bool) -> None:
        self.gate, self.usage_sink, self.settlements = servicer.gate, servicer.usage, servicer.settlements
        self.config = servicer.router.config
        # spend-log facts travel with the settlement only when budget_service keeps a spend log
        self.keeps_log = getattr(servicer, "keeps_log", True)
        fwd = request_policy.forwarded_headers(context.invocation_metadata(), self.config)
        if fwd:
            upstream_extras.FORWARDED.set(fwd)  # this RPC's task only
        self.context = context
        self.call_type, self.stream = call_type, stream
        self.request_id = new_request_id()
        self.client_request_id = client_request_id_from(context)
        self.api_key = api_key_from(context)
        self.admission = None
        self.guard: AttemptGuard | None = None
        self.info: RouteInfo | None = None
        self.usage: dict | None = None
        self.ok = False
        self.error: BaseException | None = None
        self.cost_micros: int | None = None
        self.record = None
        self.request: dict | None = None
        self.cache = getattr(servicer, "cache", None)  # router_service/response_cache (None: off)
        self.cache_plan = None
        self.hit = None  # a cached answer this request is served from (free)

    async def admit(self, req: dict, cacheable: bool = False) -> None:
        """Admit the request (raises GatewayError); afterwards pass `self.guard` to the router, or
        call `route` (`cacheable`: a unary RPC that may be answered from the response cache; a hit
        is admitted like any request but reserves nothing)."""
        self.request = req
        self.record = new_record(req.get("model", ""), request_id=self.request_id, call_type=self.call_type,
                                 stream=self.stream).with_request(req)
        self.record.client_request_id = self.client_request_id
        if cacheable and self.cache is not None and not self.stream:
            tenant = self.api_key if self.gate.enforces else None  # no authentication: one shared scope
            self.cache_plan = self.cache.plan(self.call_type, tenant, req)
            self.hit = await self.cache_plan.lookup() if self.cache_plan is not None else None
        self.admission = await self.gate.admit(self.api_key, self.request_id, req, started=self.hit is None,
                                               free=self.hit is not None)
        request_policy.check_mock_params(req, self.admission.identity, self.gate.enforces, self.config)
        apply_alias(req, self.admission.identity)
        self.guard = AttemptGuard(self.gate, self.admission)
        self.guard.check_groups(fallback_names(req), "fallbacks")

    async def route(self, route, req: dict):
        """(response, RouteInfo): the cached answer on a hit, else `route(req, guard)` upstream, whose
        answer is then stored in the cache (in the background)."""
        if self.hit is not None:
            return self.hit.response, self.hit.info
        response, info = await route(req, self.guard)
        if self.cache_plan is not None:
            self.cache_plan.store(response, info)
        return response, info

    def metadata(self) -> tuple[tuple[str, str], ...]:
        pairs = {"x-gemgate-request-id": self.request_id}
        if self.client_request_id:
            pairs["x-request-id"] = self.client_request_id
        if self.info is not None:
            pairs.update(self.info.headers())
        if self.cost_micros is not None:
            pairs["x-gemgate-response-cost"] = f"{self.cost_micros / 1_000_000:.6f}"
        if self.hit is not None:
            pairs.update(self.hit.headers())
        return tuple(pairs.items())

    def settle(self) -> None:
        """Price the request now (for the cost header) and settle it with the budget service in the
        background, exactly once: the client does not wait for the ledger write. Until it lands the
        reservation still counts, so budgets stay conservative; settle retries and is idempotent."""
        if self.admission is None or self.cost_micros is not None:
            return
        hit = self.hit is not None  # a cached answer costs nothing and uses no tokens
        self.cost_micros = 0 if hit else charge_micros(self.admission, usage=self.usage, route=self.info,
                                                       success=self.ok)
        if self.gate.enforces:
            self.settlements.spawn(
                self.gate.settle(self.admission, usage=None if hit else self.usage, route=self.info, success=self.ok,
                                 cost_micros=self.cost_micros, log=self.spend_entry() if self.keeps_log else None))

    def spend_entry(self):
        """This request's spend-log facts (stored when budget_service has a database)."""
        rec = self.record
        entry = spend_entry(call_type=self.call_type, request=self.request, identity=self.admission.identity,
                            info=self.info, usage=self.usage, start_time=rec.start_time if rec else time.time(),
                            ok=self.ok, error=self.error, stream=self.stream, response_model=rec.model if rec else "")
        entry.model_group = self.recorded_group(entry.model_group)
        if self.hit is not None:
            entry.metadata.update({"cache_hit": True})
        return entry

    def recorded_group(self, name: str) -> str:
        """The model group as records and spend logs keep it: a name no deployment serves is raw
        client text (a pasted key, say), so it is recorded as "unknown"."""
        return name if self.config.deployments_for(name) is not None else UNKNOWN_MODEL

    async def fail(self, exc: BaseException) -> None:
        err = exc if isinstance(exc, GatewayError) else internal_error(exc)
        self.error = err
        if self.info is None:
            self.info = RouteInfo.of(err)
        await abort(self.context, err, self.metadata())

    async def close_stream(self, source, streamed) -> None:
        """End a streamed RPC: close the upstream iterator, charge a stream cut short for what it had
        produced (estimated from `streamed`), then `close()`."""
        try:
            if source is not None and hasattr(source, "aclose"):
                await source.aclose()
        finally:
            if self.usage is None and streamed.chars:
                self.usage = streamed.estimated_usage(self.request)
            self.close()

    def close(self) -> None:
        self.settle()
        if self.record is None:
            return
        rec = self.record.with_route(self.info).with_usage(self.usage)
        rec.model_group = self.recorded_group(rec.model_group)
        if self.admission is not None:
            rec.with_identity(self.admission.identity)
        if self.cost_micros is not None:
            rec.with_cost(micros=self.cost_micros)
        rec.cache_hit = self.hit is not None
        if self.error is None and not self.ok:
            self.error = GatewayError(ErrorKind.UNAVAILABLE, "client cancelled the request", code="client_cancelled")
        track(self.usage_sink, rec, error=self.error, secrets=(self.api_key,) if self.api_key else ())
