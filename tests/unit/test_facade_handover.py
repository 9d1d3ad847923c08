"""rest_facade/handover.py: the CLI hands each facade worker the settings it uses at startup and per
request; the whole config is loaded from the same file only when a model-describing endpoint asks."""

from __future__ import annotations

import json

import yaml

from gemgate.config import load_config
from rest_facade import handover

MASTER = "sk-master-0123456789"
CFG = {
    "model_list": [{"model_name": "flash", "litellm_params": {"model": "gemini/gemini-2.5-flash", "api_key": "k"}}],
    "litellm_settings": {"json_logs": True, "set_verbose": False},
    "general_settings": {"master_key": MASTER, "metrics_token": "mt-0123456789", "max_request_size_mb": 3,
                         "forward_client_headers_to_llm_api": True, "allowed_routes": ["openai_routes"],
                         "internal_secret": "s" * 40},
}


def test_handed_over_settings_answer_as_the_config_does(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(CFG))
    config = load_config(path)
    handed = handover.take({handover.ENV: handover.export(config, str(path))})
    for name in ("master_key", "dangerously_permit_weak_or_unset_master_key", "metrics_token", "max_request_size_mb",
                 "forward_client_headers_to_llm_api", "allowed_routes", "internal_secret"):
        assert getattr(handed.general_settings, name) == getattr(config.general_settings, name), name
    for name in ("set_verbose", "json_logs"):
        assert getattr(handed.litellm_settings, name) == getattr(config.litellm_settings, name)
    assert MASTER not in repr(handed) and "s" * 40 not in repr(handed)
    full = handed.full()
    assert [d.model_name for d in full.model_list] == ["flash"] and handed.full() is full  # loaded once


def test_export_names_the_file_absolutely(tmp_path, monkeypatch):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CFG))
    monkeypatch.chdir(tmp_path)
    data = json.loads(handover.export(load_config("c.yaml"), "c.yaml"))
    assert data["config_path"] == str(tmp_path / "c.yaml")


def test_take_removes_the_settings_from_the_environment(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CFG))
    env = {handover.ENV: handover.export(load_config(tmp_path / "c.yaml"), str(tmp_path / "c.yaml")), "OTHER": "1"}
    assert handover.take(env) is not None
    assert env == {"OTHER": "1"}
    assert handover.take(env) is None  # started without them: the facade reads the config file
