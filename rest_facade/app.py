"""The FastAPI app: OpenAI REST in, internal gRPC out."""

from __future__ import annotations

import inspect
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from fastapi import FastAPI
from grpc_health.v1 import health_pb2_grpc

from gemgate import gc_tuning, internal_auth
from gemgate.grpc_server import MESSAGE_OPTIONS
from gemgate.v1 import budget_pb2, budget_pb2_grpc, records_pb2_grpc, router_pb2_grpc
from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import from_rpc_error
from rest_facade import errors, openapi_doc
from rest_facade.fast_lane import FastLane
from rest_facade.guard import DEFAULT_MAX_BODY_BYTES, InputGuard
from rest_facade.routes import anthropic, completions, gemini, health, litellm_utils, management, metrics, openai, records, responses

GRPC_OPTIONS = [*MESSAGE_OPTIONS, ("grpc.keepalive_time_ms", 30000)]


@dataclass(frozen=True)
class FacadeSettings:
    router_address: str
    budget_address: str | None = None
    metrics_urls: tuple[str, ...] = ()  # other processes' /metrics, merged into ours
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # general_settings.max_request_size_mb
    auth_required: bool = False  # general_settings.master_key set: large bodies only after the key
    internal_secret: str | None = field(default=None, repr=False)  # sent to router/budget (internal_auth)
    # who may read /metrics (rest_facade/routes/metrics.py): the master key or the metrics token
    master_key: str | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)
    config: Any = None  # gemgate.config.GatewayConfig (LiteLLM utility endpoints, allowed_routes)

    @property
    def forward_headers(self) -> bool:
        return bool(self.config is not None and self.config.general_settings.forward_client_headers_to_llm_api)


# FastAPI 0.16x's own OpenTelemetry hooks ask the global tracer/meter/logger providers on every request;
# gemgate exports telemetry from the router (litellm_settings.callbacks: otel), so the facade turns them
# off (older FastAPI has no such hooks and no such argument)
_NO_TELEMETRY = ({"telemetry": {"tracing": False, "metrics": False, "logs": False}}
                 if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {})


def create_app(settings: FacadeSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        router_channel = internal_auth.channel(settings.router_address, settings.internal_secret, GRPC_OPTIONS)
        app.state.router = router_pb2_grpc.RouterServiceStub(router_channel)
        app.state.router_health = health_pb2_grpc.HealthStub(router_channel)
        budget_channel = None
        app.state.budget = app.state.budget_health = app.state.records = None
        if settings.budget_address:
            budget_channel = internal_auth.channel(settings.budget_address, settings.internal_secret, GRPC_OPTIONS)
            app.state.budget = budget_pb2_grpc.BudgetServiceStub(budget_channel)
            app.state.budget_health = health_pb2_grpc.HealthStub(budget_channel)
            app.state.records = records_pb2_grpc.RecordServiceStub(budget_channel)
        gc_tuning.settle()
        try:
            yield
        finally:
            await router_channel.close()
            if budget_channel is not None:
                await budget_channel.close()

    app = FastAPI(title="gemgate", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None, **_NO_TELEMETRY)
    errors.install(app)

    async def check_key(key: str) -> GatewayError | None:
        stub = getattr(app.state, "budget", None)
        if stub is None:
            return None
        try:
            await stub.Authorize(budget_pb2.AuthorizeRequest(api_key=key), timeout=5.0)
        except grpc.aio.AioRpcError as exc:
            return from_rpc_error(exc)
        except Exception:  # noqa: BLE001 - never let a broken check read the body unauthenticated
            return GatewayError(ErrorKind.UNAVAILABLE, "could not check the API key")
        return None

    app.add_middleware(FastLane, routes=openai.FAST_ROUTES)  # inside the guard: Starlette adds outward
    app.add_middleware(InputGuard, max_body_bytes=settings.max_body_bytes,
                       check_key=check_key if settings.auth_required else None)
    app.include_router(openai.router)
    app.include_router(responses.router)
    app.include_router(anthropic.router)
    app.include_router(gemini.router)
    app.include_router(health.router)
    app.include_router(management.router)
    app.include_router(records.router)
    app.include_router(metrics.router)
    app.include_router(completions.router)
    app.include_router(litellm_utils.router)
    litellm_utils.install_allowed_routes(app, settings.config)  # outermost
    openapi_doc.install(app)
    return app
