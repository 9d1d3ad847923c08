"""LiteLLM-compatible health endpoints: liveness and readiness probes (open), and GET /health, a
cheap upstream check of every deployment (master key only; router_service/deployment_health.py)."""

from __future__ import annotations

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2

from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import router_pb2
from rest_facade.auth import grpc_metadata
from rest_facade.errors import error_response

router = APIRouter()


@router.get("/health/liveliness")
@router.get("/health/liveness")
async def liveliness():
    return "I'm alive!"


async def _serving(stub, service: str) -> str:
    try:
        resp = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
    except grpc.aio.AioRpcError as exc:
        return f"unreachable ({exc.code().name})"
    return "healthy" if resp.status == health_pb2.HealthCheckResponse.SERVING else health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status).lower()


@router.get("/health/readiness")
async def readiness(request: Request):
    state = request.app.state
    checks = {"router_service": await _serving(state.router_health, "gemgate.v1.RouterService")}
    if state.budget_health is not None:
        checks["budget_service"] = await _serving(state.budget_health, "gemgate.v1.BudgetService")
    ok = all(v == "healthy" for v in checks.values())
    body = {"status": "healthy" if ok else "unhealthy", **checks}
    return JSONResponse(body, status_code=200 if ok else 503)


def _endpoint(e: router_pb2.DeploymentHealth) -> dict:
    out = {"model": e.model, "model_name": e.model_name, "model_id": e.model_id, "check": e.check,
           "latency_ms": e.latency_ms}
    for name in ("api_base", "vertex_project", "vertex_location", "error", "error_type"):
        if getattr(e, name):
            out[name] = getattr(e, name)
    return out


@router.get("/health")
async def deployments_health(request: Request, model: str | None = None, model_id: str | None = None):
    """LiteLLM's GET /health: {healthy_endpoints, unhealthy_endpoints, healthy_count, unhealthy_count}."""
    try:
        resp = await request.app.state.router.CheckDeployments(
            router_pb2.CheckDeploymentsRequest(model=(model or "")[:256], model_id=(model_id or "")[:256]),
            metadata=grpc_metadata(request), timeout=660)
    except grpc.aio.AioRpcError as exc:
        return error_response(from_rpc_error(exc))
    healthy = [_endpoint(e) for e in resp.healthy_endpoints]
    unhealthy = [_endpoint(e) for e in resp.unhealthy_endpoints]
    return {"healthy_endpoints": healthy, "unhealthy_endpoints": unhealthy, "healthy_count": len(healthy),
            "unhealthy_count": len(unhealthy)}
