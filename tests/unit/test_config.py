import pytest

from gemgate.config import ConfigError, load_config, parse_config


def dep(**params):
    return {"model_name": "m", "litellm_params": {"model": "gemini/gemini-2.5-flash", **params}}


def test_litellm_config_parses(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "model_list:\n"
        "  - model_name: flash\n"
        "    litellm_params:\n"
        "      model: gemini/gemini-2.5-flash\n"
        "      api_key: os.environ/MY_KEY\n"
        "      rpm: 10\n"
        "  - model_name: claude\n"
        "    litellm_params:\n"
        "      model: vertex_ai/claude-sonnet-4-5@20250929\n"
        "      vertex_ai_project: proj\n"
        "      vertex_ai_location: us-east5\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "  num_retries: 4\n"
        "  fallbacks: [{flash: [claude]}]\n"
        "general_settings:\n"
        "  master_key: sk-1234\n"
    )
    cfg = load_config(path, environ={"MY_KEY": "secret-value"})
    flash, claude = cfg.model_list
    assert flash.litellm_params.api_key == "secret-value"
    assert flash.litellm_params.provider == "gemini" and flash.litellm_params.upstream_model == "gemini-2.5-flash"
    assert claude.litellm_params.vertex_project == "proj" and claude.litellm_params.vertex_location == "us-east5"
    assert cfg.litellm_settings.drop_params is True
    assert cfg.num_retries() == 4
    assert cfg.fallbacks("fallbacks") == [{"flash": ["claude"]}]
    assert cfg.groups().keys() == {"flash", "claude"}
    assert [d.model_info.id for d in cfg.model_list] == ["flash-0", "claude-1"]
    assert "secret-value" not in repr(cfg) and "sk-1234" not in repr(cfg)


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"model_list": [dep(tempurature=1)]}, "model_list[0].litellm_params.tempurature: unknown field"),
        ({"model_list": [dep(rpm=-1)]}, "model_list[0].litellm_params.rpm"),
        ({"model_list": [{"model_name": "m", "litellm_params": {"model": "azure/gpt"}}]}, "unsupported provider"),
        ({"model_list": [{"model_name": "m"}]}, "model_list[0].litellm_params: Field required"),
        ({"router_settings": {"routing_strategy": "random"}}, "router_settings.routing_strategy"),
        ({"general_settings": {"master_key": "1234"}}, "master_key must start with 'sk-'"),
        ({"bogus_section": {}}, "bogus_section: unknown field"),
        ([1, 2], "top level must be a mapping"),
        ({"model_list": [dep(api_key="os.environ/NOT_SET_ANYWHERE")]}, "environment variable NOT_SET_ANYWHERE"),
    ],
)
def test_invalid_config_names_field(data, needle):
    with pytest.raises(ConfigError) as exc:
        parse_config(data, environ={})
    assert needle in str(exc.value)


def test_environment_variables_section_feeds_references():
    cfg = parse_config({"environment_variables": {"K": "v"}, "model_list": [dep(api_key="os.environ/K")]}, environ={})
    assert cfg.model_list[0].litellm_params.api_key == "v"


def test_duplicate_model_ids_rejected():
    d = dep()
    d["model_info"] = {"id": "same"}
    with pytest.raises(ConfigError, match="not unique"):
        parse_config({"model_list": [d, d]}, environ={})


def test_redis_url_precedence():
    assert parse_config({}, environ={}).redis_url({}) == "redis://127.0.0.1:6379/0"
    assert parse_config({}, environ={}).redis_url({"REDIS_URL": "redis://r:1/2"}) == "redis://r:1/2"
    cfg = parse_config({"router_settings": {"redis_host": "h", "redis_port": 7}}, environ={})
    assert cfg.redis_url({}) == "redis://h:7/0"
    cfg = parse_config({"general_settings": {"redis_url": "redis://g:1/0"}, "router_settings": {"redis_host": "h"}}, environ={})
    assert cfg.redis_url({}) == "redis://g:1/0"


def test_invalid_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model_list: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_empty_sections_are_allowed():
    cfg = parse_config({"model_list": [{**dep(), "model_info": None}], "general_settings": None, "litellm_settings": None}, environ={})
    assert cfg.general_settings.master_key is None
    assert cfg.model_list[0].model_info.id == "m-0"


def test_shipped_example_config_is_valid():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    cfg = load_config(example, environ={"GEMINI_API_KEY": "k"})
    assert cfg.model_list[0].litellm_params.api_key == "k"
