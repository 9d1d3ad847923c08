"""gemgate/config_views.py: the config the CLI checked, handed to router_service as JSON and rebuilt
without pydantic, answers every question exactly as the pydantic GatewayConfig does."""

from __future__ import annotations


import pytest
from pydantic import BaseModel

from gemgate import config_views
from gemgate.config import parse_config

RICH = {
    "model_list": [
        {"model_name": "flash", "litellm_params": {
            "model": "gemini-2.5-flash", "custom_llm_provider": "gemini", "api_key": "k-1", "temperature": 0.3,
            "max_tokens": 100, "stop": ["x"], "thinking": {"type": "enabled", "budget_tokens": 64},
            "extra_headers": {"x-team": "blue"}, "extra_body": {"cachedContent": "c/1"}, "tags": ["a"],
            "input_cost_per_token": 1e-07, "rpm": 5},
         "model_info": {"id": "f1", "supports_vision": True, "access_groups": ["beta"], "max_input_tokens": 1000}},
        {"model_name": "flash", "tpm": 900, "litellm_params": {"model": "vertex_ai/gemini-2.5-flash",
                                                              "vertex_credentials": {"type": "service_account"}}},
        {"model_name": "gemini/*", "litellm_params": {"model": "gemini/*", "api_key": "k-2"}},
        {"model_name": "embed", "litellm_params": {"model": "gemini/text-embedding-004"},
         "model_info": {"mode": "embedding"}},
    ],
    "litellm_settings": {"vertex_project": "p", "vertex_location": "europe-west4", "num_retries": 4,
                         "fallbacks": [{"flash": ["embed"]}], "cache": True,
                         "cache_params": {"type": "local", "supported_call_types": ["acompletion", "rerank"],
                                          "default_in_memory_ttl": 30},
                         "require_auth_for_metrics_endpoint": False, "callbacks": ["prometheus"]},
    "router_settings": {"model_group_alias": {"gpt-4o": "flash", "secret": {"model": "embed", "hidden": True}},
                        "context_window_fallbacks": [{"flash": ["gemini/x"]}], "routing_strategy": "least-busy",
                        "redis_host": "cache.internal", "redis_password": "pw", "retry_policy": {"TimeoutErrorRetries": 1}},
    "general_settings": {"master_key": "sk-master-0123456789", "media_allowed_networks": ["10.0.0.0/8"]},
}


def _pair():
    config = parse_config(RICH, environ={})
    config.warnings.append("an extra warning")  # as the CLI adds the unpriced-model ones
    env = {}
    handed = config_views.export(config)
    env[config_views.ENV] = handed
    return config, config_views.take(env), env


def _same(model: BaseModel, plain, where: str) -> None:
    for name in type(model).model_fields:
        a, b = getattr(model, name), getattr(plain, name)
        if isinstance(a, BaseModel):
            _same(a, b, f"{where}.{name}")
        elif isinstance(a, list) and a and isinstance(a[0], BaseModel):
            assert len(a) == len(b), where
            for i, (x, y) in enumerate(zip(a, b)):
                _same(x, y, f"{where}.{name}[{i}]")
        else:
            assert a == b and type(a) is type(b), (f"{where}.{name}", a, b)


def test_every_field_of_every_section_is_the_same():
    config, plain, _ = _pair()
    _same(config, plain, "config")


def test_derived_views_are_the_same():
    config, plain, _ = _pair()
    assert plain.warnings == config.warnings and "an extra warning" in plain.warnings
    assert {k: [d.model_info.id for d in v] for k, v in plain.groups().items()} == \
        {k: [d.model_info.id for d in v] for k, v in config.groups().items()}
    for name in ("flash", "gpt-4o", "secret", "gemini/gemini-2.5-pro", "nope", "gemini/bad name"):
        assert plain.alias_target(name) == config.alias_target(name)
        a, b = config.deployments_for(name), plain.deployments_for(name)
        assert (a is None) == (b is None), name
        for x, y in zip(a or (), b or ()):
            assert (x.model_name, x.model_info.id) == (y.model_name, y.model_info.id)
            assert x.litellm_params.as_dict == y.litellm_params.as_dict, name
    wild = plain.deployments_for("gemini/gemini-2.5-pro")[0]
    assert wild.litellm_params.model == "gemini/gemini-2.5-pro" and wild.litellm_params.as_dict["model"] == wild.litellm_params.model
    assert plain.model_list[2].litellm_params.model == "gemini/*"  # the pattern itself untouched
    assert plain.hidden_aliases() == config.hidden_aliases() == {"secret"}
    assert plain.redis_url({}) == config.redis_url({}) == "redis://:pw@cache.internal:6379/0"
    assert plain.database_url({"DATABASE_URL": "postgresql://db/x"}) == "postgresql://db/x"
    assert plain.num_retries() == config.num_retries() == 4
    for kind in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "default_fallbacks"):
        assert plain.fallbacks(kind) == config.fallbacks(kind)
    for x, y in zip(config.model_list, plain.model_list):
        lx, ly = x.litellm_params, y.litellm_params
        assert (lx.provider, lx.upstream_model, lx.request_defaults()) == (ly.provider, ly.upstream_model, ly.request_defaults())
        assert lx.as_dict == ly.as_dict and ly.as_dict is ly.as_dict  # computed once
    cx, cy = config.litellm_settings.cache_params, plain.litellm_settings.cache_params
    assert (cx.cached_rpcs(), cx.default_ttl(), cx.warnings()) == (cy.cached_rpcs(), cy.default_ttl(), cy.warnings())


def test_handover_leaves_the_environment_and_hides_secrets():
    _, plain, env = _pair()
    assert env == {}
    assert "k-1" not in repr(plain) and "sk-master" not in repr(plain.general_settings)


def test_too_large_a_config_is_not_handed_over():
    big = {"model_list": []}
    big["model_list"] = [{"model_name": f"m{i}", "litellm_params": {"model": "gemini/gemini-2.5-flash",
                                                                    "api_key": "k" * 200}} for i in range(600)]
    assert config_views.export(parse_config(big, environ={})) is None  # the router reads the file itself


@pytest.mark.parametrize("section", ["model_list", "litellm_settings", "router_settings", "general_settings"])
def test_every_nested_model_has_a_plain_class(section):
    """A new nested model in the config must be rebuilt as an object, not left a dict."""
    config, plain, _ = _pair()

    def walk(model, obj):
        for name in type(model).model_fields:
            value = getattr(model, name)
            items = value if isinstance(value, list) else [value]
            for i, v in enumerate(items):
                if isinstance(v, BaseModel):
                    got = getattr(obj, name)
                    got = got[i] if isinstance(value, list) else got
                    assert not isinstance(got, dict), f"{type(model).__name__}.{name}"
                    walk(v, got)

    walk(getattr(config, section)[0] if section == "model_list" else getattr(config, section),
         getattr(plain, section)[0] if section == "model_list" else getattr(plain, section))
