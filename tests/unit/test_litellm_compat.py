"""LiteLLM setting recognition (implemented / refused / warned / typo), Vertex spellings, wildcard
and alias routing data, error policies, the price table and the CLI flags."""

from __future__ import annotations

import pytest

from gemgate import cli_flags, litellm_known
from gemgate.cache_settings import CacheParams
from gemgate.config import (ConfigError, GatewayConfig, GeneralSettings, LiteLLMParams, LiteLLMSettings, ModelInfo,
                            RouterSettings, parse_config)
from gemgate.config_screen import field_names
from gemgate.forward_headers import forwardable
from router_service import cost, price_table

SECTIONS = {"top": GatewayConfig, "litellm_settings": LiteLLMSettings, "router_settings": RouterSettings,
            "general_settings": GeneralSettings, "litellm_params": LiteLLMParams, "model_info": ModelInfo,
            "cache_params": CacheParams}


def dep(**params):
    return {"model_name": "m", "litellm_params": {"model": "gemini/gemini-2.5-flash", **params}}


def parse(data):
    return parse_config(data, environ={})


# ---------------------------------------------------------------- the data
def test_known_list_is_consistent():
    assert set(litellm_known.KNOWN) == set(SECTIONS)
    for section, entries in litellm_known.KNOWN.items():
        fields = set(field_names(SECTIONS[section]))
        for name, (action, advice) in entries.items():
            assert action in (litellm_known.REFUSE, litellm_known.WARN), (section, name)
            assert advice and len(advice) > 10, (section, name)
            # an implemented setting must never be listed as unsupported (it would be unreachable)
            assert name not in fields, f"{section}.{name} is implemented and listed as unsupported"


@pytest.mark.parametrize("section", [s for s in litellm_known.KNOWN if s not in ("litellm_params", "model_info")])
def test_every_refused_setting_stops_startup_by_name_and_every_warned_one_warns(section):
    for name, (action, advice) in litellm_known.KNOWN[section].items():
        data = {name: True} if section == "top" else {section: {name: True}}
        if section == "cache_params":
            data = {"litellm_settings": {"cache": True, "cache_params": {name: True}}}
        if action == litellm_known.REFUSE:
            with pytest.raises(ConfigError) as exc:
                parse(data)
            assert f"LiteLLM setting '{name}' is not supported by gemgate: {advice}" in str(exc.value)
        else:
            cfg = parse(data)
            assert any(f"LiteLLM setting '{name}' is ignored by gemgate" in w for w in cfg.warnings), name


def test_deployment_level_refusals_and_warnings():
    with pytest.raises(ConfigError, match=r"model_list\[0\]\.litellm_params\.litellm_credential_name: LiteLLM setting"):
        parse({"model_list": [dep(litellm_credential_name="c")]})
    d = dep()
    d["model_info"] = {"health_check_model": "x", "supports_vision": True}
    cfg = parse({"model_list": [d]})
    assert cfg.model_list[0].model_info.supports == {"supports_vision": True}
    assert any("health_check_model" in w for w in cfg.warnings)


@pytest.mark.parametrize("data, hint", [
    ({"general_settings": {"master_kye": "sk-1"}}, "did you mean 'master_key'?"),
    ({"model_list": [dep(temprature=0.2)]}, "did you mean 'temperature'?"),
    ({"litellm_settings": {"succes_callback": ["x"]}}, "did you mean 'success_callback'?"),
    ({"router_settings": {"model_group_alais": {}}}, "did you mean 'model_group_alias'?"),
    ({"router_settings": {"retry_policy": {"RateLimitErrorRetry": 1}}}, "did you mean 'RateLimitErrorRetries'?"),
    ({"general_settings": {"reject_metadata_tag": True}}, "did you mean 'reject_metadata_tags'?"),
])
def test_typos_get_a_did_you_mean(data, hint):
    with pytest.raises(ConfigError) as exc:
        parse(data)
    assert hint in str(exc.value)
    assert "not supported by gemgate" not in str(exc.value)


def test_database_url_is_never_refused_as_unsupported():
    try:
        parse({"general_settings": {"database_url": "postgresql://u:p@h:5432/db"}})
    except ConfigError as exc:
        assert "not supported" not in str(exc)


def test_refusal_and_typo_reported_together():
    with pytest.raises(ConfigError) as exc:
        parse({"general_settings": {"custom_auth": "x.y", "master_kye": "sk-1"}})
    assert "custom_auth" in str(exc.value) and "master_kye" in str(exc.value)


# ---------------------------------------------------------------- Vertex spellings, defaults
def test_vertex_spellings_and_litellm_settings_defaults():
    cfg = parse({"model_list": [
        {"model_name": "a", "litellm_params": {"model": "vertex_ai/gemini-2.5-pro", "vertex_region": "europe-west4",
                                               "vertex_ai_credentials": '{"type": "service_account"}'}},
        {"model_name": "b", "litellm_params": {"model": "vertex_ai/gemini-2.5-pro"}},
        {"model_name": "c", "litellm_params": {"model": "gemini-2.5-flash", "custom_llm_provider": "gemini"}},
    ], "litellm_settings": {"vertex_project": "p1", "vertex_location": "us-east5"}})
    a, b, c = (d.litellm_params for d in cfg.model_list)
    assert (a.vertex_location, a.vertex_project, a.vertex_credentials) == ("europe-west4", "p1", '{"type": "service_account"}')
    assert (b.vertex_location, b.vertex_project) == ("us-east5", "p1")
    assert c.model == "gemini/gemini-2.5-flash" and c.provider == "gemini"


def test_psc_needs_api_base_and_builds_endpoint_url():
    from router_service.providers.vertex import vertex_url

    with pytest.raises(ConfigError, match="use_psc_endpoint_format needs api_base"):
        parse({"model_list": [{"model_name": "a", "litellm_params": {"model": "vertex_ai/123", "use_psc_endpoint_format": True}}]})
    assert vertex_url(project="p", location="l", publisher="google", model="123", op="generateContent",
                      api_base="http://10.0.0.2/", psc=True) == "http://10.0.0.2/v1/projects/p/locations/l/endpoints/123:generateContent"


def test_extra_headers_may_not_set_credentials():
    with pytest.raises(ConfigError, match="extra_headers may not set 'Authorization'"):
        parse({"model_list": [dep(extra_headers={"Authorization": "Bearer x"})]})


# ---------------------------------------------------------------- aliases, wildcards, budget
def test_model_group_alias_and_wildcards():
    cfg = parse({"model_list": [
        dep(),
        {"model_name": "gemini/*", "litellm_params": {"model": "gemini/*", "api_key": "k"}},
        {"model_name": "gemini/gemini-2.5-*", "litellm_params": {"model": "gemini/gemini-2.5-*", "api_key": "k2"}},
    ], "router_settings": {"model_group_alias": {"gpt-4o": "m", "secret": {"model": "m", "hidden": True}}}})
    assert cfg.deployments_for("gpt-4o")[0].model_name == "m"
    assert cfg.hidden_aliases() == {"secret"}
    flash = cfg.deployments_for("gemini/gemini-2.0-flash")
    assert [d.litellm_params.model for d in flash] == ["gemini/gemini-2.0-flash"]
    assert flash[0].model_name == "gemini/gemini-2.0-flash" and flash[0].model_info.id == "gemini/*-1:gemini-2.0-flash"
    pro = cfg.deployments_for("gemini/gemini-2.5-pro")  # the most specific pattern wins
    assert pro[0].litellm_params.api_key == "k2" and pro[0].litellm_params.model == "gemini/gemini-2.5-pro"
    assert cfg.deployments_for("gemini/../../x") is None  # never a path into the upstream URL
    assert cfg.deployments_for("other") is None
    with pytest.raises(ConfigError, match="model group 'nope' is not in model_list"):
        parse({"model_list": [dep()], "router_settings": {"model_group_alias": {"a": "nope"}}})


def test_global_budget_settings():
    cfg = parse({"litellm_settings": {"max_budget": 10, "budget_duration": "30d"},
                 "general_settings": {"master_key": "sk-master-0123456789"}})
    from budget_service.server import proxy_budget

    assert proxy_budget(cfg) == {"max_budget": 10_000_000, "budget_duration": "30d"}
    with pytest.raises(ConfigError, match="max_budget needs general_settings.master_key"):
        parse({"litellm_settings": {"max_budget": 1}})
    with pytest.raises(ConfigError, match="not a duration"):
        parse({"litellm_settings": {"max_budget": 1, "budget_duration": "monthly"},
               "general_settings": {"master_key": "sk-master-0123456789"}})
    with pytest.raises(ConfigError, match="needs litellm_settings.max_budget"):
        parse({"litellm_settings": {"budget_duration": "1d"}})


def test_cache_params_recognised_refused_and_typed():
    cfg = parse({"litellm_settings": {"cache": True, "cache_params": {
        "type": "redis", "host": "cache.internal", "port": "6380", "password": "pw", "namespace": "team-a", "ttl": 60,
        "mode": "default_off", "supported_call_types": ["acompletion", "aembedding", "atranscription"]}}})
    cp = cfg.litellm_settings.cache_params
    assert (cp.port, cp.default_ttl(), cp.cached_rpcs(), cp.mode) == (6380, 60.0, {"chat", "embeddings"}, "default_off")
    assert "pw" not in repr(cp)
    assert any("atranscription are not cached by gemgate" in w for w in cfg.warnings)
    assert parse({"litellm_settings": {"cache": True, "cache_params": None}}).litellm_settings.cache_params.type == "redis"
    assert parse({"litellm_settings": {"cache": True, "cache_params": {"type": "local"}}}).litellm_settings \
        .cache_params.default_ttl() == 3600.0
    for params, msg in (({"type": "s3", "s3_bucket_name": "b"}, "cache type 's3' is not supported by gemgate"),
                        ({"type": "qdrant-semantic"}, "'qdrant-semantic' is not supported by gemgate"),
                        ({"type": "redis-semantic", "similarity_threshold": 0.8}, "'similarity_threshold' is not supported"),
                        ({"redis_startup_nodes": [{"host": "h", "port": 1}]}, "'redis_startup_nodes' is not supported"),
                        ({"ssl_cert_reqs": None}, "always verifies"),
                        ({"type": "memcached"}, "unknown cache type"),
                        ({"supported_call_types": ["acompletions"]}, "unknown call type"),
                        ({"mode": "off"}, "default_on"),
                        ({"ttl": 0}, "greater than 0"),
                        ({"namespce": "x"}, "did you mean 'namespace'")):
        with pytest.raises(ConfigError, match=msg):
            parse({"litellm_settings": {"cache": True, "cache_params": params}})


# ---------------------------------------------------------------- prices
@pytest.mark.parametrize("model, inp, out", [
    ("gemini/gemini-pro", 0.5, 1.5), ("gemini/gemini-1.5-pro-latest", 1.25, 5.0), ("gemini/gemini-pro-vision", 0.5, 1.5),
    ("vertex_ai/claude-3-sonnet@20240229", 3.0, 15.0), ("gemini/gemini-2.0-flash-001", 0.10, 0.40),
    ("gemini/gemini-2.5-flash-preview-09-2025", 0.30, 2.50), ("gemini/gemini-flash-latest", 0.30, 2.50),
    ("vertex_ai/claude-opus-4-5@20251101", 5.0, 25.0), ("gemini/gemini-3-pro-preview", 2.0, 12.0),
    ("vertex_ai/text-embedding-005", 0.10, 0.0), ("gemini/gemini-embedding-001", 0.15, 0.0),
])
def test_price_table_covers_current_models(model, inp, out):
    p = cost.lookup(model)
    assert p is not None, model
    assert (p.input / 1e6, p.output / 1e6) == (pytest.approx(inp), pytest.approx(out))


def test_price_table_file_has_date_and_tiers():
    as_of, rows = price_table.load()
    assert as_of and rows["gemini-2.5-pro"]["long_context"]["threshold"] == 200_000
    usage = {"prompt_tokens": 300_000, "completion_tokens": 1000}
    assert cost.cost_micros("gemini/gemini-2.5-pro", usage) == 300_000 * 2.5 + 1000 * 15.0


def test_unpriced_model_warns_and_overrides_win():
    cfg = parse({"model_list": [
        {"model_name": "x", "litellm_params": {"model": "gemini/brand-new-model"}},
        {"model_name": "y", "litellm_params": {"model": "gemini/brand-new-model", "input_cost_per_character": 0.000001,
                                               "output_cost_per_character": 0.000002}},
        {"model_name": "z", "litellm_params": {"model": "gemini/gemini-2.5-flash"}},
    ]})
    warnings = price_table.unpriced_warnings(cfg)
    assert len(warnings) == 1 and "'gemini/brand-new-model' has no price" in warnings[0] and "$15" in warnings[0]
    y = cfg.model_list[1]
    p = cost.price_for(y.litellm_params.model, y)
    assert (p.input, p.output) == (4_000_000, 8_000_000)  # 4 characters per token


# ---------------------------------------------------------------- CLI flags, headers
def test_cli_flags_litellm_style():
    args, notes = cli_flags.parse(["--config", "c.yaml", "--detailed_debug", "--num_workers", "4", "--telemetry", "False",
                                   "--use_queue"])
    assert args.config == "c.yaml" and cli_flags.log_level(args, {}) == "DEBUG"
    assert [n.split(":")[0] for n in notes] == ["LiteLLM flag --telemetry accepted", "LiteLLM flag --use_queue accepted"]
    assert args.num_workers == 4  # implemented, not merely noted
    args, _ = cli_flags.parse(["-c", "c.yaml", "--debug"])
    assert cli_flags.log_level(args, {}) == "INFO" and cli_flags.log_level(args, {"GEMGATE_LOG_LEVEL": "x"}) is None
    with pytest.raises(SystemExit) as exc:
        cli_flags.parse(["--config", "c.yaml", "--model", "gpt-4"])
    assert exc.value.code == 2


@pytest.mark.parametrize("name, ok", [
    ("x-trace-id", True), ("anthropic-beta", True), ("X-Custom-Tenant", True), ("authorization", False),
    ("x-goog-api-key", False), ("x-api-key", False), ("x-litellm-api-key", False), ("x-my-token", False),
    ("x-gemgate-model-id", False), ("cookie", False), ("x-forwarded-for", False), ("user-agent", False),
])
def test_forwardable_headers_never_credentials(name, ok):
    assert forwardable(name) is ok


# ---------------------------------------------------------------- translators
def test_parallel_tool_calls_false_is_refused_for_gemini_and_honoured_for_claude():
    from gemgate.errors import GatewayError
    from router_service.providers.anthropic.request import to_claude_request
    from router_service.providers.gemini.translate import to_gemini_request

    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    r = {"model": "g", "messages": [{"role": "user", "content": "x"}], "tools": tools, "parallel_tool_calls": False}
    with pytest.raises(GatewayError) as exc:
        to_gemini_request(r, deployment={"model": "gemini/gemini-2.5-flash"})
    assert exc.value.param == "parallel_tool_calls"
    assert "parallel_tool_calls" not in str(to_gemini_request(r, deployment={"model": "gemini/gemini-2.5-flash",
                                                                             "drop_params": True}))
    body = to_claude_request(r, deployment={"model": "vertex_ai/claude-sonnet-4-5"})
    assert body["tool_choice"]["disable_parallel_tool_use"] is True
    ok = {**r, "parallel_tool_calls": True}
    assert "tools" in to_gemini_request(ok, deployment={"model": "gemini/gemini-2.5-flash"})


def test_thinking_param_for_gemini_and_claude():
    from gemgate.errors import GatewayError
    from router_service.providers.anthropic.request import to_claude_request
    from router_service.providers.gemini.translate import to_gemini_request

    r = {"model": "g", "messages": [{"role": "user", "content": "x"}], "thinking": {"type": "enabled", "budget_tokens": 2048}}
    gen = to_gemini_request(r, deployment={"model": "gemini/gemini-2.5-flash"})["generationConfig"]
    assert gen["thinkingConfig"] == {"thinkingBudget": 2048, "includeThoughts": True}
    off = to_gemini_request({**r, "thinking": {"type": "disabled"}}, deployment={"model": "gemini/gemini-2.5-flash"})
    assert off["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    body = to_claude_request(r, deployment={"model": "vertex_ai/claude-sonnet-4-5"})
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048} and body["max_tokens"] > 2048
    with pytest.raises(GatewayError):
        to_claude_request({**r, "max_tokens": 1000}, deployment={"model": "vertex_ai/claude-sonnet-4-5"})
    with pytest.raises(GatewayError):
        to_gemini_request({**r, "thinking": {"type": "on"}}, deployment={"model": "gemini/gemini-2.5-flash"})
    # Gemini 2.5 Pro cannot turn thinking off: disabled is its minimum budget, as reasoning_effort none
    pro = to_gemini_request({**r, "thinking": {"type": "disabled"}}, deployment={"model": "gemini/gemini-2.5-pro"})
    assert pro["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 128}
    for model, budget in (("gemini-2.5-pro", 0), ("gemini-2.5-pro", 64), ("gemini-2.5-flash", 30000),
                          ("gemini-2.5-flash-lite", 100)):
        with pytest.raises(GatewayError) as exc:
            to_gemini_request({**r, "thinking": {"type": "enabled", "budget_tokens": budget}},
                              deployment={"model": f"gemini/{model}"})
        assert exc.value.param == "thinking.budget_tokens" and "accepts" in exc.value.message
    lite = to_gemini_request({**r, "thinking": {"type": "enabled", "budget_tokens": 0}},
                             deployment={"model": "gemini/gemini-2.5-flash-lite"})
    assert lite["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 0


def test_entry_level_tpm_rpm_as_in_litellm():
    cfg = parse({"model_list": [{"model_name": "m", "litellm_params": {"model": "gemini/x", "rpm": 5}, "tpm": 100, "rpm": 9}]})
    lp = cfg.model_list[0].litellm_params
    assert (lp.tpm, lp.rpm) == (100, 5)  # litellm_params wins


def test_num_workers_flag_env_and_bounds():
    assert cli_flags.parse(["-c", "c.yaml"])[0].num_workers in range(1, 65)
    assert cli_flags.parse(["-c", "c.yaml", "--num-workers", "3"])[0].num_workers == 3
    assert cli_flags.num_workers(None, {}) == 1
    assert cli_flags.num_workers(None, {"NUM_WORKERS": "4"}) == 4  # LiteLLM's environment variable
    assert cli_flags.num_workers("2", {"NUM_WORKERS": "4"}) == 2  # the flag wins
    for bad in ("0", "65", "-1", "two", "1.5"):
        with pytest.raises(ValueError, match="from 1 to 64"):
            cli_flags.num_workers(bad, {})
    with pytest.raises(ValueError, match="NUM_WORKERS"):
        cli_flags.num_workers(None, {"NUM_WORKERS": "0"})
    with pytest.raises(SystemExit) as exc:
        cli_flags.parse(["-c", "c.yaml", "--num_workers", "100"])
    assert exc.value.code == 2


def test_internal_channel_target_for_several_workers():
    from gemgate.internal_auth import balanced_target

    assert balanced_target("127.0.0.1:4001,127.0.0.1:4101") == "ipv4:127.0.0.1:4001,127.0.0.1:4101"
    assert balanced_target("localhost:4001, 127.0.0.1:4002") == "ipv4:127.0.0.1:4001,127.0.0.1:4002"
    assert balanced_target("[::1]:4001,::1:4002") == "ipv6:[::1]:4001,[::1]:4002"
    with pytest.raises(ValueError):
        balanced_target("127.0.0.1,127.0.0.1:2")
    # the CLI's local sockets (gemgate/local_sockets.py): one target of their scheme, never mixed with TCP
    assert balanced_target("unix-abstract:g-router-1, unix-abstract:g-router-2") == "unix-abstract:g-router-1,g-router-2"
    assert balanced_target("unix:/run/a.sock,unix:/run/b.sock") == "unix:/run/a.sock,/run/b.sock"
    for mixed in ("unix-abstract:a,127.0.0.1:4001", "127.0.0.1:4001,unix-abstract:a", "unix:/a,unix-abstract:b"):
        with pytest.raises(ValueError):
            balanced_target(mixed)


def test_local_sockets_only_on_linux_and_can_be_turned_off():
    from gemgate import local_sockets

    assert local_sockets.enabled({}, "linux")
    assert not local_sockets.enabled({"GEMGATE_LOCAL_SOCKETS": "0"}, "linux")
    assert not local_sockets.enabled({}, "darwin") and not local_sockets.enabled({}, "win32")
    budget, routers = local_sockets.addresses(2)
    again, _ = local_sockets.addresses(2)
    assert budget != again  # a token per run: two gateways on one machine never share a name
    assert routers[0].startswith(budget.rsplit("-", 1)[0]) and len(set(routers)) == 2


def test_require_auth_for_metrics_endpoint_never_loosens():
    from gemgate.config import METRICS_AUTH_IGNORED

    assert parse({"litellm_settings": {"require_auth_for_metrics_endpoint": True}}).warnings == []
    cfg = parse({"litellm_settings": {"require_auth_for_metrics_endpoint": False}})
    assert cfg.warnings == [METRICS_AUTH_IGNORED] and cfg.litellm_settings.require_auth_for_metrics_endpoint is False
    with pytest.raises(ConfigError, match="require_auth_for_metrics_endpoint.*valid boolean"):
        parse({"litellm_settings": {"require_auth_for_metrics_endpoint": "sometimes"}})
    cfg = parse({"general_settings": {"require_auth_for_metrics_endpoint": False}})
    assert any("reads it from litellm_settings" in w for w in cfg.warnings)


def test_coordination_redis_is_the_shared_router_redis():
    cfg = parse({"general_settings": {"coordination_redis": {"host": "r.internal", "port": "6380", "password": "pw"}}})
    rs = cfg.router_settings
    assert (rs.redis_host, rs.redis_port, rs.redis_password) == ("r.internal", 6380, "pw")
    assert cfg.redis_url({}).startswith("redis://") and "r.internal:6380" in cfg.redis_url({})
    assert parse({"general_settings": {"coordination_redis": {"url": "redis://u:6379/1"}}}).router_settings.redis_url \
        == "redis://u:6379/1"
    with pytest.raises(ConfigError, match="coordination_redis.sentinel_nodes: LiteLLM setting"):
        parse({"general_settings": {"coordination_redis": {"sentinel_nodes": [["h", 1]]}}})
    with pytest.raises(ConfigError, match="give it once"):
        parse({"general_settings": {"coordination_redis": {"host": "a"}}, "router_settings": {"redis_host": "b"}})
