import pytest

from gemgate.config import ConfigError, parse_config
from router_service.usage import build_dispatcher


def cfg(**ls):
    return parse_config({"litellm_settings": ls}, environ={})


def routes(d):
    return {r.sink.name: (r.on_success, r.on_failure) for r in d._routes}


async def test_routing_follows_litellm_lists(tmp_path):
    env = {"LANGSMITH_API_KEY": "k", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
           "GENERIC_LOGGER_ENDPOINT": "http://127.0.0.1:1", "GEMGATE_USAGE_JSONL_PATH": str(tmp_path / "u.jsonl")}
    d = build_dispatcher(cfg(success_callback=["langsmith", "jsonl"], failure_callback=["opentelemetry", "jsonl"],
                             callbacks=["generic"]), env)
    assert routes(d) == {"langsmith": (True, False), "jsonl": (True, True), "otel": (False, True),
                         "generic_api": (True, True)}
    await d.aclose()


@pytest.mark.parametrize("name,var", [("langsmith", "LANGSMITH_API_KEY"), ("otel", "OTEL_EXPORTER_OTLP_ENDPOINT"),
                                      ("opentelemetry", "OTEL_EXPORTER_OTLP_ENDPOINT"),
                                      ("generic_api", "GENERIC_LOGGER_ENDPOINT"), ("langfuse", "LANGFUSE_PUBLIC_KEY")])
def test_missing_env_names_the_variable(name, var):
    with pytest.raises(ConfigError, match=var):
        build_dispatcher(cfg(callbacks=[name]), {})


def test_unknown_callback_is_a_startup_error():
    with pytest.raises(ConfigError, match="success_callback.*'datadog'"):
        build_dispatcher(cfg(success_callback=["datadog"]), {})


def test_jsonl_default_path_and_missing_dir(tmp_path):
    d = build_dispatcher(cfg(callbacks=["jsonl"]), {})
    assert str(d._routes[0].sink.path) == "gemgate-usage.jsonl"
    with pytest.raises(ConfigError, match="GEMGATE_USAGE_JSONL_PATH"):
        build_dispatcher(cfg(callbacks=["jsonl"]), {"GEMGATE_USAGE_JSONL_PATH": str(tmp_path / "nope" / "u.jsonl")})


def test_otel_traces_endpoint_and_headers():
    d = build_dispatcher(cfg(callbacks=["otel"]), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/",
                                                  "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%3Db"})
    s = d._routes[0].sink
    assert s._url == "http://c:4318/v1/traces" and s._headers["api-key"] == "a=b"
    d2 = build_dispatcher(cfg(callbacks=["otel"]), {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/custom"})
    assert d2._routes[0].sink._url == "http://c/custom"


def test_no_callbacks_no_sinks():
    d = build_dispatcher(cfg(), {})
    assert d.sink_names == []


async def test_prometheus_callback_names_the_existing_metrics():
    d = build_dispatcher(cfg(callbacks=["prometheus"], success_callback=["prometheus"]), {})
    assert routes(d) == {}  # no sink: GET /metrics already serves every process's metrics
    await d.aclose()
