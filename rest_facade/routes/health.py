"""LiteLLM-compatible health endpoints."""

from __future__ import annotations

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2

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
