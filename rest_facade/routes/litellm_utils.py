"""LiteLLM proxy utility endpoints tools call: /model/info (+ /v1/model/info), /model_group/info,
/utils/token_counter, /routes; general_settings.allowed_routes; and the LiteLLM paths gemgate
does not serve (answered "not supported by gemgate" instead of a generic unknown endpoint).

Every endpoint here authenticates like GET /v1/models (the router's ListModels with the caller's
key) and shows only the model groups that key may use. Secrets (api_key, vertex_credentials) are
never returned."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request

from gemgate.errors import ErrorKind, GatewayError, invalid
from gemgate.v1 import router_pb2
from rest_facade.auth import caller_key, grpc_metadata
from rest_facade.body import json_body
from rest_facade.errors import error_response

router = APIRouter()

_PUBLIC_PARAMS = ("model", "api_base", "vertex_project", "vertex_location", "rpm", "tpm", "weight", "order",
                  "timeout", "stream_timeout", "max_retries", "num_retries", "max_parallel_requests", "tags",
                  "use_psc_endpoint_format", "custom_llm_provider")
# LiteLLM proxy paths gemgate does not serve
NOT_SUPPORTED_PREFIXES = (
    "/v1/images", "/images", "/v1/audio", "/audio", "/v1/moderations", "/moderations", "/v1/files", "/files",
    "/v1/batches", "/batches", "/v1/fine_tuning", "/fine_tuning", "/v1/assistants", "/assistants",
    "/v1/threads", "/threads", "/v1/rerank", "/rerank", "/v2/rerank", "/v1/realtime", "/realtime",
    "/v1/vector_stores", "/vector_stores", "/v1/search", "/search", "/v1/ocr", "/ocr", "/v1/videos", "/videos",
    "/model/new", "/model/update", "/model/delete", "/config/", "/get/config", "/guardrails", "/mcp", "/v1/mcp",
    "/sso", "/ui", "/login", "/logout", "/onboarding", "/invitation", "/organization", "/customer",
    "/end_user", "/budget/", "/credentials", "/tag/", "/alerting", "/callback", "/cache/", "/openai/",
    "/bedrock", "/azure", "/cohere", "/langfuse", "/assemblyai", "/anthropic/", "/vertex_ai", "/vertex-ai",
    "/prompts", "/v1/agents", "/agents", "/health/services", "/settings", "/spend/calculate", "/provider/",
    "/team/model", "/model_access_group", "/jwt", "/sandbox", "/email", "/audit",
    "/health/latest", "/health/history", "/active/callbacks", "/cache/ping",
)
# routes every caller may use whatever allowed_routes says (probes)
_ALWAYS = ("/health/liveliness", "/health/liveness", "/health/readiness")
OPENAI_ROUTES = ("/v1/chat/completions", "/chat/completions", "/v1/completions", "/completions", "/v1/embeddings",
                 "/embeddings", "/v1/models", "/models", "/v1/responses", "/responses", "/v1/messages")


def not_supported(path: str) -> bool:
    if path.startswith("/health/") and path not in ("/health/liveliness", "/health/liveness", "/health/readiness"):
        return True
    return any(path == p.rstrip("/") or path.startswith(p if p.endswith("/") else p + "/") or path == p
               for p in NOT_SUPPORTED_PREFIXES)


def _route_allowed(path: str, allowed: list[str]) -> bool:
    for entry in allowed:
        if entry == "openai_routes" and (path in OPENAI_ROUTES or path.startswith(("/v1/models/", "/models/"))):
            return True
        if entry.endswith("*") and path.startswith(entry[:-1]):
            return True
        if path == entry:
            return True
    return False


class AllowedRoutes:
    """general_settings.allowed_routes (pure ASGI): callers other than the master key may use only
    the listed routes (exact paths, `prefix*`, or `openai_routes`); anything else is a 403."""

    def __init__(self, app, allowed: list[str], master_key: str | None) -> None:
        self.app, self.allowed, self.master_key = app, allowed, master_key

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path not in _ALWAYS and not _route_allowed(path, self.allowed):
                key = caller_key(Request(scope))
                master = self.master_key
                if not (master and key and hmac.compare_digest(key.encode(), master.encode())):
                    response = error_response(GatewayError(
                        ErrorKind.PERMISSION, f"Route {path} is not in general_settings.allowed_routes.",
                        code="route_not_allowed"))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def install_allowed_routes(app, config) -> None:
    """Add the AllowedRoutes check when general_settings.allowed_routes is set."""
    allowed = config.general_settings.allowed_routes if config is not None else None
    if allowed is not None:
        app.add_middleware(AllowedRoutes, allowed=allowed, master_key=config.general_settings.master_key)


async def _allowed_groups(request: Request) -> set[str]:
    resp = await request.app.state.router.ListModels(router_pb2.ListModelsRequest(), metadata=grpc_metadata(request))
    return {m.id for m in resp.data}


async def _config(request: Request):
    config = getattr(request.app.state.settings, "config", None)
    if config is None:
        raise GatewayError(ErrorKind.NOT_FOUND, "the facade was started without --config; model info is unavailable")
    if hasattr(config, "full"):  # handed over by the CLI (rest_facade/handover.py): the whole config, loaded once
        from gemgate.config import ConfigError

        try:
            return await asyncio.to_thread(config.full)
        except ConfigError as exc:
            raise GatewayError(ErrorKind.UNAVAILABLE, f"the config file no longer loads, so model info is "
                               f"unavailable: {exc}") from None
    return config


def _prices(dep) -> dict:
    from router_service import cost

    p = cost.price_for(dep.litellm_params.model, dep)
    return {"input_cost_per_token": p.input / 1e12, "output_cost_per_token": p.output / 1e12,
            "cache_read_input_token_cost": None if p.cached_input is None else p.cached_input / 1e12,
            "max_output_tokens": p.max_output_tokens}


def _mode(dep) -> str:
    if dep.model_info.mode:
        return dep.model_info.mode
    return "embedding" if "embedding" in dep.litellm_params.model else "chat"


def deployment_info(dep) -> dict:
    lp, mi = dep.litellm_params, dep.model_info
    params = {k: getattr(lp, k) for k in _PUBLIC_PARAMS if getattr(lp, k) not in (None, [], False)}
    prices = _prices(dep)
    info = {"id": mi.id, "mode": _mode(dep), "base_model": mi.base_model, "description": mi.description,
            "litellm_provider": lp.provider, "max_tokens": mi.max_tokens or mi.max_output_tokens or prices["max_output_tokens"],
            "max_input_tokens": mi.max_input_tokens, "max_output_tokens": mi.max_output_tokens or prices["max_output_tokens"],
            "input_cost_per_token": prices["input_cost_per_token"], "output_cost_per_token": prices["output_cost_per_token"],
            "cache_read_input_token_cost": prices["cache_read_input_token_cost"],
            "access_groups": mi.access_groups, **mi.supports}
    return {"model_name": dep.model_name, "litellm_params": params, "model_info": info}


@router.get("/model/info")
@router.get("/v1/model/info")
async def model_info(request: Request, litellm_model_id: str | None = None):
    allowed = await _allowed_groups(request)
    data = [deployment_info(d) for d in (await _config(request)).model_list if d.model_name in allowed
            and (litellm_model_id is None or d.model_info.id == litellm_model_id)]
    return {"data": data}


@router.get("/model_group/info")
async def model_group_info(request: Request, model_group: str | None = None):
    allowed = await _allowed_groups(request)
    out = []
    for name, deps in (await _config(request)).groups().items():
        if name not in allowed or (model_group is not None and name != model_group):
            continue
        infos = [deployment_info(d)["model_info"] for d in deps]
        flags = sorted({k for i in infos for k in i if k.startswith("supports_")})
        out.append({
            "model_group": name,
            "providers": sorted({i["litellm_provider"] for i in infos}),
            "mode": infos[0]["mode"],
            "max_input_tokens": min((i["max_input_tokens"] for i in infos if i["max_input_tokens"]), default=None),
            "max_output_tokens": min(i["max_output_tokens"] for i in infos),
            "input_cost_per_token": max(i["input_cost_per_token"] for i in infos),
            "output_cost_per_token": max(i["output_cost_per_token"] for i in infos),
            "tpm": sum(d.litellm_params.tpm or 0 for d in deps) or None,
            "rpm": sum(d.litellm_params.rpm or 0 for d in deps) or None,
            "access_groups": sorted({g for i in infos for g in i["access_groups"]}),
            **{f: all(i.get(f, False) for i in infos) for f in flags},
        })
    return {"data": out}


@router.post("/utils/token_counter")
async def token_counter(request: Request):
    from router_service.cost import estimate_prompt_tokens

    body = await json_body(request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("model is required", "model")
    config = await _config(request)
    deps = config.deployments_for(model)
    allowed = await _allowed_groups(request)
    group = config.alias_target(model) or model
    if not deps or (group not in allowed and model not in allowed and not any("*" in g for g in allowed)):
        raise GatewayError(ErrorKind.MODEL_NOT_FOUND, f"The model `{model}` does not exist.", param="model")
    if body.get("messages") is not None:
        if not isinstance(body["messages"], list):
            raise invalid("messages must be an array", "messages")
        req = {"messages": body["messages"]}
    elif isinstance(body.get("prompt"), str):
        req = {"input": body["prompt"]}
    else:
        raise invalid("give messages (an array) or prompt (a string)", "messages")
    return {"total_tokens": estimate_prompt_tokens(req), "request_model": model,
            "model_used": deps[0].litellm_params.model,
            "tokenizer_type": "gemgate estimate (about 3 bytes per token; errs high, as budget reservations do)"}


@router.get("/routes")
async def routes(request: Request):
    await _allowed_groups(request)  # authenticates the caller
    out: list[dict] = []

    def walk(routes, prefix: str = "") -> None:
        for r in routes:
            inner = getattr(r, "original_router", None) or getattr(r, "router", None)
            if inner is not None and hasattr(inner, "routes") and not hasattr(r, "methods"):
                walk(inner.routes, prefix + getattr(inner, "prefix", ""))
                continue
            methods = sorted(getattr(r, "methods", None) or [])
            if methods and getattr(r, "include_in_schema", True):
                out.append({"path": prefix + r.path, "methods": methods, "name": r.name})

    walk(request.app.routes)
    return {"routes": out}
