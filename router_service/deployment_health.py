"""RouterService.CheckDeployments (GET /health): every deployment checked with the cheapest upstream
call that proves it works (router_service/providers/health.py), at most CONCURRENCY at a time, each
bounded by its `model_info.health_check_timeout` (default DEFAULT_TIMEOUT seconds).

Master key only (a virtual key is refused with PERMISSION, no key with AUTHENTICATION); without a
master_key (no authentication, loopback only) anyone local may call it. The answer names
deployments by their public facts only (model, group, id, api_base, Vertex project/location) and
never carries api keys or credentials; error text is scrubbed of them too.
"""

from __future__ import annotations

import asyncio
import time

from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import abort
from gemgate.v1 import router_pb2
from router_service.providers import health
from router_service.usage.record import scrub

CONCURRENCY = 8
DEFAULT_TIMEOUT = 10.0  # seconds per deployment


def select(config, model: str, model_id: str) -> list:
    """The deployments to check: all of them, one group (or alias / wildcard name), or one id."""
    deps = list(config.model_list)
    if model:
        found = config.deployments_for(model)
        if not found:
            raise GatewayError(ErrorKind.MODEL_NOT_FOUND, f"The model `{model[:128]}` does not exist.", param="model")
        deps = list(found)
    if model_id:
        deps = [d for d in deps if d.model_info.id == model_id]
        if not deps:
            raise GatewayError(ErrorKind.MODEL_NOT_FOUND, f"No deployment has model_info.id `{model_id[:128]}`.",
                               param="model_id")
    return deps


def _secrets(dep) -> tuple[str, ...]:
    lp = dep.litellm_params
    creds = lp.vertex_credentials if isinstance(lp.vertex_credentials, str) else None
    return tuple(s for s in (lp.api_key, creds) if s)


def _entry(dep, check: str, started: float, err: GatewayError | None = None) -> router_pb2.DeploymentHealth:
    lp = dep.litellm_params
    out = router_pb2.DeploymentHealth(
        model=lp.model, model_name=dep.model_name, model_id=dep.model_info.id or "", api_base=lp.api_base or "",
        vertex_project=lp.vertex_project or "" if lp.provider == "vertex_ai" else "",
        vertex_location=lp.vertex_location or "" if lp.provider == "vertex_ai" else "",
        check=check, latency_ms=round((time.monotonic() - started) * 1000, 1))
    if err is not None:
        out.error = scrub(err.message, _secrets(dep))
        out.error_type = err.kind.name.lower()
    return out


async def check_all(providers: dict, deps: list) -> router_pb2.CheckDeploymentsResponse:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(dep) -> tuple[bool, router_pb2.DeploymentHealth]:
        async with gate:
            started = time.monotonic()
            timeout = dep.model_info.health_check_timeout or DEFAULT_TIMEOUT
            try:
                check = await asyncio.wait_for(
                    health.check(providers[dep.litellm_params.provider], dep, timeout), timeout)
            except asyncio.TimeoutError:
                err = GatewayError(ErrorKind.UPSTREAM_TIMEOUT, f"no answer within {timeout:g}s")
                return False, _entry(dep, "", started, err)
            except GatewayError as err:
                return False, _entry(dep, "", started, err)
            except Exception as exc:  # noqa: BLE001 - one broken deployment must not fail the report
                return False, _entry(dep, "", started, GatewayError(ErrorKind.INTERNAL, type(exc).__name__))
            return True, _entry(dep, check, started)

    results = await asyncio.gather(*(one(d) for d in deps))
    return router_pb2.CheckDeploymentsResponse(healthy_endpoints=[e for ok, e in results if ok],
                                               unhealthy_endpoints=[e for ok, e in results if not ok])


class HealthRPCs:
    """Mixed into RouterServicer (needs `.gate`, `.router`)."""

    async def CheckDeployments(self, request, context):
        from router_service.call_scope import api_key_from

        try:
            identity = await self.gate.authorize(api_key_from(context))
            if identity is not None and not identity.is_master:
                raise GatewayError(ErrorKind.PERMISSION, "GET /health needs the master key.", code="master_key_required")
            deps = select(self.router.config, request.model, request.model_id)
        except GatewayError as err:
            await abort(context, err)
        return await check_all(self.router.providers, deps)
