import json
import logging

from gemgate import logsetup


def test_json_logs_one_object_per_line(capsys, monkeypatch):
    monkeypatch.delenv("GEMGATE_LOG_LEVEL", raising=False)
    logsetup.setup("router", json_logs=True)
    logging.getLogger("gemgate.test").info("hello %s", "world")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    rec = json.loads(line)
    assert rec["message"] == "hello world" and rec["service"] == "router" and rec["level"] == "INFO"
    assert rec["time"].endswith("Z")


def test_verbose_is_debug_unless_env_says_otherwise(monkeypatch):
    monkeypatch.delenv("GEMGATE_LOG_LEVEL", raising=False)
    logsetup.setup("x", verbose=True)
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("httpx").level == logging.WARNING
    monkeypatch.setenv("GEMGATE_LOG_LEVEL", "warning")
    logsetup.setup("x", verbose=True)
    assert logging.getLogger().level == logging.WARNING
    logsetup.setup("x")
