"""budget_service/handover.py: the CLI hands budget_service the settings it uses, so the budget
process runs without the config machinery, with the same values as a config it loaded itself."""

from __future__ import annotations

import json

from budget_service import handover
from budget_service.server import access_groups, proxy_budget
from gemgate.cli import budget_env
from gemgate.config import parse_config

MASTER = "sk-master-0123456789"


def _config(**general):
    return parse_config({
        "model_list": [
            {"model_name": "flash", "litellm_params": {"model": "gemini/gemini-2.5-flash"},
             "model_info": {"access_groups": ["cheap", "all"]}},
            {"model_name": "pro", "litellm_params": {"model": "gemini/gemini-2.5-pro"},
             "model_info": {"access_groups": ["all"]}},
            {"model_name": "plain", "litellm_params": {"model": "gemini/gemini-2.5-flash"}},
        ],
        "litellm_settings": {"max_budget": 12.5, "budget_duration": "30d", "json_logs": True},
        "general_settings": {"master_key": MASTER, "budget_deadline": 3.5, "database_connection_pool_limit": 7,
                             **general},
    }, environ={})


def test_handed_over_settings_answer_as_the_config_does():
    config = _config(redis_url="redis://cache.internal:6380/2")
    env = {"DATABASE_URL": "postgresql://u:p@db:5432/gw"}
    handed = handover.take({handover.ENV: handover.export(config, env)})
    assert proxy_budget(handed) == proxy_budget(config) == {"max_budget": 12_500_000, "budget_duration": "30d"}
    assert access_groups(handed) == access_groups(config) == {"cheap": {"flash"}, "all": {"flash", "pro"}}
    assert handed.redis_url() == config.redis_url(env) == "redis://cache.internal:6380/2"
    assert handed.database_url() == config.database_url(env) == "postgresql://u:p@db:5432/gw"
    for name in ("master_key", "budget_deadline", "database_connection_pool_limit", "internal_secret"):
        assert getattr(handed.general_settings, name) == getattr(config.general_settings, name)
    for name in ("max_budget", "budget_duration", "set_verbose", "json_logs"):
        assert getattr(handed.litellm_settings, name) == getattr(config.litellm_settings, name)
    assert MASTER not in repr(handed) and "u:p" not in repr(handed)


def test_take_removes_the_settings_from_the_environment():
    env = {handover.ENV: handover.export(_config(), {}), "OTHER": "1"}
    assert handover.take(env) is not None
    assert env == {"OTHER": "1"}
    assert handover.take(env) is None  # started without them: budget_service reads the config file


def test_cli_hands_over_unless_the_config_would_be_refused():
    env = {"REDIS_URL": "redis://r:6379/0"}
    out = budget_env(_config(), env)
    assert json.loads(out[handover.ENV])["redis_url"] == "redis://r:6379/0" and out["REDIS_URL"] == "redis://r:6379/0"
    bad = {"DATABASE_URL": "mysql://db/gw"}  # budget_service reports it itself, as before
    assert budget_env(_config(), bad) == bad



def test_budget_service_loads_no_config_machinery():
    """The budget process (started with handed-over settings) imports neither pydantic nor yaml."""
    import subprocess
    import sys

    code = ("import sys, budget_service.server; "
            "print([m for m in ('pydantic', 'yaml', 'gemgate.config') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
