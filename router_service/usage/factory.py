"""Build the usage dispatcher from litellm_settings (LiteLLM-compatible callback names) + environment.

success records -> success_callback + callbacks; failure records -> failure_callback + callbacks.
Names: langsmith | langfuse | otel (opentelemetry) | generic_api (generic) | jsonl; prometheus is
accepted and needs no sink (GET /metrics). A configured sink with a
missing required variable is a startup `ConfigError` naming the variable; unknown names too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from typing import TYPE_CHECKING

from gemgate.config_names import ConfigError
from router_service.usage.callbacks import UsageSink, parse_header_list
from router_service.usage.dispatcher import DispatcherSettings, SinkRoute, UsageDispatcher

if TYPE_CHECKING:
    import httpx

    from gemgate.config import GatewayConfig

ALIASES = {
    "langsmith": "langsmith",
    "otel": "otel", "opentelemetry": "otel",
    "generic_api": "generic_api", "generic": "generic_api",
    "jsonl": "jsonl",
    "langfuse": "langfuse",
    # Prometheus needs no sink: every process's metrics are always served at GET /metrics
    "prometheus": "prometheus",
}
NO_SINK = {"prometheus"}


def canonical_sink_name(name: str, where: str) -> str:
    key = name.strip().lower()
    if key not in ALIASES:
        raise ConfigError(
            f"litellm_settings.{where}: unsupported callback {name!r} "
            f"(gemgate supports: langsmith, langfuse, otel/opentelemetry, generic_api/generic, jsonl, "
            f"prometheus (= GET /metrics))"
        )
    return ALIASES[key]


def _require(environ: Mapping[str, str], var: str, sink: str) -> str:
    value = environ.get(var, "").strip()
    if not value:
        raise ConfigError(f"callback {sink!r} is configured but environment variable {var} is not set")
    return value


def _shared_client() -> httpx.AsyncClient:
    import httpx  # only with an HTTP callback configured (keeps the router lean without one)

    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=3.0),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
    )


def _make_sink(name: str, environ: Mapping[str, str], client_factory) -> UsageSink:
    # each sink's module is imported only when that callback is configured
    if name == "langsmith":
        from router_service.usage.callbacks.langsmith import DEFAULT_BASE_URL, LangSmithSink

        return LangSmithSink(
            client_factory(),
            api_key=_require(environ, "LANGSMITH_API_KEY", name),
            project=environ.get("LANGSMITH_PROJECT") or "default",
            base_url=environ.get("LANGSMITH_BASE_URL") or environ.get("LANGSMITH_ENDPOINT") or DEFAULT_BASE_URL,
        )
    if name == "langfuse":
        from router_service.usage.callbacks.langfuse import DEFAULT_HOST as LANGFUSE_HOST
        from router_service.usage.callbacks.langfuse import LangfuseSink

        return LangfuseSink(
            client_factory(),
            public_key=_require(environ, "LANGFUSE_PUBLIC_KEY", name),
            secret_key=_require(environ, "LANGFUSE_SECRET_KEY", name),
            host=environ.get("LANGFUSE_HOST") or environ.get("LANGFUSE_BASE_URL") or LANGFUSE_HOST,
        )
    if name == "otel":
        from router_service.usage.callbacks.otel import OtelSink, traces_url

        url = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        if not url:
            url = traces_url(_require(environ, "OTEL_EXPORTER_OTLP_ENDPOINT", name))
        headers = parse_header_list(environ.get("OTEL_EXPORTER_OTLP_HEADERS"))
        headers.update(parse_header_list(environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")))
        return OtelSink(client_factory(), url=url, headers=headers,
                        service_name=environ.get("OTEL_SERVICE_NAME") or "gemgate")
    if name == "generic_api":
        from router_service.usage.callbacks.generic_api import GenericApiSink

        return GenericApiSink(
            client_factory(),
            endpoint=_require(environ, "GENERIC_LOGGER_ENDPOINT", name),
            headers=parse_header_list(environ.get("GENERIC_LOGGER_HEADERS")),
        )
    if name == "jsonl":
        from router_service.usage.callbacks.jsonl import DEFAULT_PATH, JsonlSink

        path = Path(environ.get("GEMGATE_USAGE_JSONL_PATH") or DEFAULT_PATH)
        if not path.parent.is_dir():
            raise ConfigError(
                f"callback 'jsonl': directory {path.parent} of GEMGATE_USAGE_JSONL_PATH does not exist"
            )
        return JsonlSink(path)
    raise ConfigError(f"unsupported callback {name!r}")  # unreachable: names are canonical


def build_dispatcher(
    config: GatewayConfig,
    environ: Mapping[str, str],
    *,
    settings: DispatcherSettings | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> UsageDispatcher:
    """The process's dispatcher. HTTP sinks share one pooled httpx.AsyncClient (created here unless
    `http_client` is given; a created client is closed by `dispatcher.aclose()`)."""
    ls = config.litellm_settings
    on_success: list[str] = []
    on_failure: list[str] = []
    for where, names in (("success_callback", ls.success_callback), ("failure_callback", ls.failure_callback),
                         ("callbacks", ls.callbacks)):
        for raw in names:
            name = canonical_sink_name(raw, where)
            if where != "failure_callback" and name not in on_success:
                on_success.append(name)
            if where != "success_callback" and name not in on_failure:
                on_failure.append(name)

    owned: list = []
    shared: list[httpx.AsyncClient] = []

    def client_factory() -> httpx.AsyncClient:
        if http_client is not None:
            return http_client
        if not shared:
            shared.append(_shared_client())
            owned.append(shared[0])
        return shared[0]

    routes: list[SinkRoute] = []
    for name in dict.fromkeys(on_success + on_failure):
        if name in NO_SINK:
            continue
        routes.append(SinkRoute(_make_sink(name, environ, client_factory),
                                on_success=name in on_success, on_failure=name in on_failure))
    return UsageDispatcher(routes, settings, owned_resources=owned)
