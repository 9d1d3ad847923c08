"""Routing across the deployments of a model group.

Public surface used by the servicer (keep it stable):
    router = Router(config, providers)
    response, info = await router.chat(request, guard)
    info, chunks = await router.stream(request, guard)   # first chunk already fetched
    response, info = await router.embed(request, guard)
    result, info = await router.native(call, guard)        # a NativeCall (Anthropic / Gemini API)
    info, items = await router.native_stream(call, guard)  # first item already fetched
`guard` (an AttemptGuard; CallScope.guard) admits every attempt: allowlist, budget top-up, start mark.
    router.model_groups()

Orchestration only; the parts live in router_service/routing/: strategies (pick), selection
(cooldowns/limits/order), cooldowns (failure policy), backoff, fallbacks, mock_switches, state.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gemgate import metrics
from gemgate import error_policies
from gemgate.errors import ErrorKind, GatewayError
from router_service.cost import estimate_prompt_tokens
from router_service.native import call as native_calls
from router_service.providers.base import Provider
from router_service.routing import backoff, cooldowns, defaults, mock_switches
from router_service.routing.parallel import ParallelLimits
from router_service.routing.fallbacks import fallback_groups
from router_service.routing.selection import candidates
from router_service.routing.state import RouterState, make_state
from router_service.routing.strategies import dep_id, pick

if TYPE_CHECKING:
    from gemgate.config import Deployment, GatewayConfig

log = logging.getLogger("gemgate.router.routing")

DEFAULT_TIMEOUT = 600.0
# Failures that are the caller's fault everywhere: no fallback group can help.
NO_FALLBACK = {ErrorKind.INVALID_REQUEST, ErrorKind.MODEL_NOT_FOUND, ErrorKind.BUDGET_EXCEEDED}


@dataclass
class RouteInfo:
    model_group: str
    model_id: str = ""
    provider: str = ""
    attempts: int = 0
    fallback_used: str | None = None
    deployment: Deployment | None = field(default=None, repr=False)

    @staticmethod
    def of(err: BaseException) -> "RouteInfo | None":
        """The route of a request the router gave up on (set on the GatewayError it raised)."""
        return getattr(err, "route_info", None)

    def headers(self) -> dict[str, str]:
        out = {
            "x-gemgate-model-group": self.model_group,
            "x-gemgate-model-id": self.model_id,
            "x-gemgate-attempts": str(self.attempts),
        }
        if self.fallback_used:
            out["x-gemgate-fallback"] = self.fallback_used
        return out


class _Forced(GatewayError):
    """A mock_testing_* error on the primary group: goes straight to fallbacks, no retry, no cooldown."""


STREAM_OPS = ("stream", "native_stream")


class AttemptGuard(Protocol):
    """Admission of each attempt (see router_service/attempt_guard.py): called before every upstream
    attempt, on every group (primary and fallbacks) and deployment. Raises GatewayError to refuse:
    PERMISSION (the key may not use this group: a fallback group is skipped, the primary refused),
    anything else (BUDGET_EXCEEDED, UNAVAILABLE) stops the request."""

    async def before_attempt(self, group: str, deployments: list[Deployment], deployment: Deployment) -> None: ...


class _Refused(Exception):
    """The attempt guard refused an attempt; carries its GatewayError through the routing loops."""

    def __init__(self, err: GatewayError) -> None:
        super().__init__(err.message)
        self.err = err


@dataclass
class _Ctx:
    op: str  # "chat" | "stream" | "embed" | "native" | "native_stream"
    request: dict  # clean provider request
    switches: dict
    num_retries: int | None  # per-request `num_retries`; None = deployment max_retries, else config
    timeout: float | None
    info: RouteInfo
    fallbacks: list | None = None  # per-request `fallbacks` (group names)
    rate_limit_mock_used: bool = False
    guard: AttemptGuard | None = None
    native: Any = None  # the NativeCall of "native" / "native_stream"


def _usage_tokens(obj: dict | None) -> int:
    usage = (obj or {}).get("usage") or {}
    return int(usage.get("total_tokens") or 0)


class Router:
    def __init__(
        self,
        config: GatewayConfig,
        providers: dict[str, Provider],
        *,
        state: RouterState | None = None,
        redis: Any = None,
        redis_prefix: str = "gemgate:router",
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.providers = providers
        self.groups = config.groups()
        self.parallel = ParallelLimits(config)
        self._cooling_gauge: set[str] = set()  # deployments whose cooldown gauge this process set
        self.state = state or make_state(config, clock=clock, redis=redis, prefix=redis_prefix)
        self.timer = timer
        self.sleep = sleep
        self.rng = rng or random.Random()

    def model_groups(self) -> list[str]:
        return list(self.groups)

    async def aclose(self) -> None:
        await self.state.aclose()

    # ---- helpers ----
    def _deployments(self, group: str) -> list[Deployment]:
        deps = self.groups.get(group)
        if not deps:
            deps = self.config.deployments_for(group)  # alias or wildcard deployments
        if not deps:
            raise GatewayError(
                ErrorKind.MODEL_NOT_FOUND,
                f"The model `{group}` does not exist. Available models: {', '.join(sorted(self.groups)) or 'none'}",
                param="model",
            )
        return deps

    def _timeout(self, dep: Deployment, stream: bool, override: float | None = None) -> float:
        if override:
            return float(override)
        p, rs, ls = dep.litellm_params, self.config.router_settings, self.config.litellm_settings
        if stream:
            return (p.stream_timeout or p.timeout or rs.stream_timeout or rs.timeout
                    or ls.request_timeout or DEFAULT_TIMEOUT)
        return p.timeout or rs.timeout or ls.request_timeout or DEFAULT_TIMEOUT

    def _provider(self, dep: Deployment) -> Provider:
        return self.providers[dep.litellm_params.provider]

    def _ctx(self, op: str, request: dict, guard: AttemptGuard | None = None) -> _Ctx:
        clean, switches, rk = mock_switches.split(request)
        rk = mock_switches.check_router_keys(rk)
        if isinstance(clean.get("cache"), dict):  # LiteLLM per-request cache controls: no cache to control
            clean.pop("cache")
        target = self.config.alias_target(clean.get("model", ""))
        if target is not None:  # router_settings.model_group_alias
            clean["model"] = target
        self._deployments(clean.get("model", ""))
        n = rk.get("num_retries")
        return _Ctx(op, clean, switches, int(n) if n is not None else None,
                    rk.get("timeout"), RouteInfo(clean["model"]), rk.get("fallbacks"), guard=guard)

    def _retries(self, ctx: _Ctx, dep: Deployment) -> int:
        """Retries allowed after a failure on `dep`: the request's `num_retries`, else the
        deployment's `max_retries`, else router_settings / litellm_settings `num_retries`."""
        if ctx.num_retries is not None:
            return ctx.num_retries
        if dep.litellm_params.max_retries is not None:
            return dep.litellm_params.max_retries
        if dep.litellm_params.num_retries is not None:
            return dep.litellm_params.num_retries
        return self.config.num_retries()

    def _fits(self, deps: list[Deployment], request: dict, group: str) -> list[Deployment]:
        """router_settings.enable_pre_call_checks: skip deployments whose model_info.max_input_tokens
        is below the request's (conservative) prompt estimate; none left -> context length error,
        which context_window_fallbacks act on."""
        if not self.config.router_settings.enable_pre_call_checks:
            return deps
        need = estimate_prompt_tokens(request)
        fit = [d for d in deps if d.model_info.max_input_tokens is None or d.model_info.max_input_tokens >= need]
        if not fit:
            raise GatewayError(
                ErrorKind.CONTEXT_LENGTH_EXCEEDED,
                f"The request (about {need} prompt tokens) exceeds max_input_tokens of every deployment of `{group}`",
                param="messages",
            )
        return fit

    # ---- public API ----
    async def chat(self, request: dict, guard: AttemptGuard | None = None) -> tuple[dict, RouteInfo]:
        ctx = self._ctx("chat", request, guard)
        return await self._run(ctx), ctx.info

    async def embed(self, request: dict, guard: AttemptGuard | None = None) -> tuple[dict, RouteInfo]:
        ctx = self._ctx("embed", request, guard)
        return await self._run(ctx), ctx.info

    async def stream(self, request: dict, guard: AttemptGuard | None = None) -> tuple[RouteInfo, AsyncIterator[dict]]:
        ctx = self._ctx("stream", request, guard)
        return ctx.info, await self._run(ctx)

    async def native(self, call, guard: AttemptGuard | None = None) -> tuple[dict, RouteInfo]:
        """A request in a provider's own API (router_service.native.call.NativeCall)."""
        ctx = self._ctx("native", call.router_request(), guard)
        ctx.native = call
        return await self._run(ctx), ctx.info

    async def native_stream(self, call, guard: AttemptGuard | None = None) -> tuple[RouteInfo, AsyncIterator[dict]]:
        ctx = self._ctx("native_stream", call.router_request(), guard)
        ctx.native = call
        return ctx.info, await self._run(ctx)

    # ---- orchestration ----
    async def _run(self, ctx: _Ctx) -> Any:
        try:
            return await self._route(ctx)
        except GatewayError as err:
            if ctx.info.attempts:  # how the failed request was routed (x-gemgate-* on errors too)
                err.route_info = ctx.info
            raise

    async def _route(self, ctx: _Ctx) -> Any:
        group = ctx.info.model_group
        try:
            return await self._try_group(ctx, group, ctx.request, primary=True)
        except _Refused as refused:
            raise refused.err from None
        except GatewayError as err:
            if err.kind in NO_FALLBACK:
                raise
            last: GatewayError = err
            for fb in fallback_groups(self.config, group, err, ctx.fallbacks):
                if fb == group or fb not in self.groups:
                    continue
                try:
                    result = await self._try_group(ctx, fb, {**ctx.request, "model": fb}, primary=False)
                except _Refused as refused:
                    if refused.err.kind is ErrorKind.PERMISSION:
                        continue  # the key may not use this fallback group: skip it
                    raise refused.err from None
                except GatewayError as fb_err:
                    last = fb_err
                    continue
                ctx.info.fallback_used = fb
                return result
            if isinstance(last, _Forced):
                raise GatewayError(last.kind, last.message, retry_after=last.retry_after) from None
            raise last

    def _tagged(self, deps: list[Deployment], request: dict, group: str) -> list[Deployment]:
        rs = self.config.router_settings
        if not rs.enable_tag_filtering:
            return deps
        tags = defaults.request_tags(request)
        out = defaults.filter_by_tags(deps, tags, rs.tag_filtering_match_any)
        if not out:
            raise GatewayError(ErrorKind.INVALID_REQUEST,
                               f"no deployment of `{group}` carries the request's tags {tags}", param="tags")
        return out

    def _retry_limit(self, ctx: _Ctx, dep: Deployment, err: GatewayError) -> int:
        """Retries allowed after `err`: router_settings.retry_policy for its class, when set (and the
        request did not set num_retries), else the usual limit for retryable errors, else 0."""
        pol = error_policies.lookup("retry_policy", self.config.router_settings.retry_policy, err.kind)
        if pol is not None:
            return pol if ctx.num_retries is None else (ctx.num_retries if pol > 0 else 0)
        return self._retries(ctx, dep) if err.retryable else 0

    async def _try_group(self, ctx: _Ctx, group: str, request: dict, primary: bool) -> Any:
        deps = self._tagged(self._fits(self._deployments(group), request, group), request, group)
        roomy = [d for d in deps if self.parallel.has_room(d)]
        deps = roomy or deps  # all full: the attempt answers 429 (retried with backoff)
        strategy = self.config.router_settings.routing_strategy
        tried: set[str] = set()
        attempt = 0
        while True:
            dep = await pick(strategy, await candidates(group, deps, self.state, tried), self.state,
                             self.rng, stream=ctx.op in STREAM_OPS)
            if ctx.guard is not None:
                try:
                    await ctx.guard.before_attempt(group, deps, dep)
                except GatewayError as err:
                    raise _Refused(err) from None
            attempt += 1
            info = ctx.info
            info.attempts += 1
            info.model_id, info.provider, info.deployment = dep_id(dep), dep.litellm_params.provider, dep
            if log.isEnabledFor(logging.DEBUG):  # --detailed_debug
                log.debug("%s: attempt %d of group %s on deployment %s (%s)", ctx.op, info.attempts, group,
                          info.model_id, dep.litellm_params.model)
            try:
                return await self._attempt(ctx, dep, group, request, primary)
            except _Forced:
                raise
            except GatewayError as err:
                tried.add(dep_id(dep))
                if attempt > self._retry_limit(ctx, dep, err):
                    raise
                # An upstream Retry-After is about the deployment that sent it (which cools down for
                # it when it has siblings): a retry that can go to an untried, available sibling
                # does not wait for it (as in LiteLLM); only the jittered backoff applies.
                retry_after = err.retry_after
                if retry_after and await self._has_untried(group, deps, tried):
                    retry_after = None
                await self.sleep(backoff.delay(attempt, self.rng, retry_after,
                                               self.config.router_settings.retry_after))

    async def _has_untried(self, group: str, deps: list[Deployment], tried: set[str]) -> bool:
        try:
            avail = await candidates(group, deps, self.state, tried)
        except GatewayError:  # nothing available right now
            return False
        return any(dep_id(d) not in tried for d in avail)

    async def _attempt(self, ctx: _Ctx, dep: Deployment, group: str, request: dict, primary: bool) -> Any:
        sw = mock_switches.effective(ctx.switches, dep)
        if primary and (forced := mock_switches.primary_error(sw, group)):
            raise _Forced(forced.kind, forced.message)
        if sw.get("mock_testing_rate_limit_error") and not ctx.rate_limit_mock_used:
            ctx.rate_limit_mock_used = True  # first deployment tried answers 429; not counted to cooldown
            raise mock_switches.rate_limit_error(group)
        i = dep_id(dep)
        slot = self.parallel.acquire(dep)  # raises RATE_LIMIT when the deployment is full
        try:
            await self.state.add_usage(i, requests=1)
            await self.state.inflight_add(i, 1)
        except BaseException:
            if slot:
                self.parallel.release(dep)
            raise
        release = True
        request = defaults.apply(request, dep)
        start = self.timer()
        timeout = self._timeout(dep, ctx.op in STREAM_OPS, ctx.timeout)
        agen = None
        try:
            mock = sw.get("mock_response")
            if ctx.op == "native_stream":
                if mock is None:
                    agen = self._provider(dep).native_stream(dep, ctx.native, group, timeout=timeout).__aiter__()
                else:
                    agen = native_calls.via_stream(native_calls.mock_stream(str(mock)), dep, ctx.native, group,
                                                   timeout=timeout).__aiter__()
            if ctx.op == "stream":
                if mock is not None:
                    agen = mock_switches.chunks(request, str(mock)).__aiter__()
                else:
                    agen = self._provider(dep).stream(dep, request, timeout=timeout).__aiter__()
            if agen is not None:
                first = await self._with_timeout(agen.__anext__(), timeout, dep)
                ttft = self.timer() - start
                await self.state.record_latency(i, ttft, "ttft")
                self._served(i)
                release = False  # the tracked stream owns the in-flight slot now
                return _TrackedStream(self, dep, agen, first, start, slot)
            if ctx.op == "native":
                call = (self._provider(dep).native(dep, ctx.native, group, timeout=timeout) if mock is None
                        else native_calls.via_chat(native_calls.mock_chat(str(mock)), dep, ctx.native, group, timeout=timeout))
                result = await self._with_timeout(call, timeout, dep)
            elif mock is not None and ctx.op == "chat":
                result = mock_switches.completion(request, str(mock))
            else:
                call = getattr(self._provider(dep), ctx.op)
                result = await self._with_timeout(call(dep, request, timeout=timeout), timeout, dep)
            await self.state.record_latency(i, self.timer() - start)
            self._served(i)
            tokens = _usage_tokens(result)
            if tokens:
                await self.state.add_usage(i, tokens=tokens)
            return result
        except StopAsyncIteration:
            err = GatewayError(ErrorKind.BAD_GATEWAY, f"deployment {i} returned an empty stream")
            await self._on_failure(dep, err)
            raise err from None
        except GatewayError as err:
            await self._on_failure(dep, err)
            raise
        finally:
            if release:
                if slot:
                    self.parallel.release(dep)
                await self.state.inflight_add(i, -1)
                if agen is not None and hasattr(agen, "aclose"):
                    try:
                        await agen.aclose()
                    except Exception:  # pragma: no cover - best effort
                        pass

    def _served(self, dep_id_: str) -> None:
        """A deployment answered: clear the cooldown gauge this process raised for it."""
        if dep_id_ in self._cooling_gauge:
            self._cooling_gauge.discard(dep_id_)
            metrics.set_cooldown(dep_id_, False)

    async def _on_failure(self, dep: Deployment, err: GatewayError) -> None:
        if await cooldowns.on_failure(self.state, dep, err, self.config.router_settings,
                                      group_size=len(self.groups.get(dep.model_name, ()))):
            self._cooling_gauge.add(dep_id(dep))
            metrics.set_cooldown(dep_id(dep), True)

    @staticmethod
    async def _with_timeout(aw: Awaitable[Any], timeout: float, dep: Deployment) -> Any:
        try:  # asyncio.timeout, not wait_for: no extra task (and loop turns) per upstream call
            async with asyncio.timeout(timeout):
                return await aw
        except TimeoutError:
            raise GatewayError(
                ErrorKind.UPSTREAM_TIMEOUT, f"deployment {dep_id(dep)} timed out after {timeout:g}s"
            ) from None


class _TrackedStream:
    """Yields the already-fetched first chunk, then the rest. Releases the in-flight slot exactly once
    (end, error or aclose), records latency and tokens from the final usage chunk. Errors after the
    first chunk propagate; the deployment never changes mid-stream."""

    def __init__(self, router: Router, dep: Deployment, agen: AsyncIterator[dict], first: dict, start: float,
                 slot: bool = False):
        self._r, self._dep, self._agen, self._first, self._start = router, dep, agen, first, start
        self._slot = slot
        self._tokens = _usage_tokens(first)
        self._done = False

    def __aiter__(self) -> "_TrackedStream":
        return self

    async def __anext__(self) -> dict:
        if self._done:
            raise StopAsyncIteration
        if self._first is not None:
            chunk, self._first = self._first, None
            return chunk
        try:
            chunk = await self._agen.__anext__()
        except StopAsyncIteration:
            await self._finish(ok=True)
            raise
        except GatewayError as err:
            await self._r._on_failure(self._dep, err)
            await self._finish(ok=False)
            raise
        except BaseException:
            await self._finish(ok=False)
            raise
        self._tokens = _usage_tokens(chunk) or self._tokens
        return chunk

    async def _finish(self, ok: bool) -> None:
        if self._done:
            return
        self._done = True
        if self._slot:
            self._r.parallel.release(self._dep)
        i = dep_id(self._dep)
        await self._r.state.inflight_add(i, -1)
        if ok:
            await self._r.state.record_latency(i, self._r.timer() - self._start)
            if self._tokens:
                await self._r.state.add_usage(i, tokens=self._tokens)

    async def aclose(self) -> None:
        try:
            aclose = getattr(self._agen, "aclose", None)
            if aclose is not None and not self._done:
                await aclose()
        finally:
            await self._finish(ok=False)
