"""Pure parts of the system of record: config, spend-log rows, period starts, the router's facts,
the compose file."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from budget_service.durable import period_start
from budget_service.spendlog import entry_to_json, row_from_charge, row_to_entry
from gemgate.config import ConfigError, parse_config
from gemgate.errors import ErrorKind, GatewayError
from router_service.spend_entry import spend_entry

ROOT = Path(__file__).resolve().parents[3]


def test_database_url_from_config_or_env():
    cfg = parse_config({"general_settings": {"database_url": "postgresql://u:p@db:5432/g"}})
    assert cfg.database_url({}) == "postgresql://u:p@db:5432/g"
    assert "p@db" not in repr(cfg.general_settings)  # a password never lands in logs via repr
    assert parse_config({}).database_url({"DATABASE_URL": "postgres://x/y"}) == "postgres://x/y"
    assert parse_config({}).database_url({}) is None
    with pytest.raises(ConfigError, match="general_settings.database_url"):
        parse_config({"general_settings": {"database_url": "mysql://x/y"}})
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        parse_config({}).database_url({"DATABASE_URL": "sqlite:///x"})


def test_period_start():
    now = datetime(2027, 3, 17, 13, 5, tzinfo=timezone.utc).timestamp()
    assert period_start(None, now) is None
    assert period_start("1mo", now) == datetime(2027, 3, 1, tzinfo=timezone.utc).timestamp()
    assert period_start("1h", now) == datetime(2027, 3, 17, 13, tzinfo=timezone.utc).timestamp()
    assert period_start("30s", now) <= now < period_start("30s", now) + 30


class Info:
    model_group, model_id, provider, attempts, fallback_used, deployment = "flash", "flash-1", "gemini", 2, "pro", None


class Identity:
    key_hash, key_alias = "ab" * 32, "ci"


def test_router_facts_and_row_round_trip():
    req = {"model": "flash", "user": "u" * 1000, "metadata": {"tags": ["a", 7, "b"]}}
    usage = {"prompt_tokens": 11, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 3},
             "completion_tokens_details": {"reasoning_tokens": 2}}
    e = spend_entry(call_type="chat", request=req, identity=Identity(), info=Info(), usage=usage, start_time=100.0,
                    ok=False, error=GatewayError(ErrorKind.UPSTREAM_TIMEOUT, "slow"), now=101.0,
                    response_model="gemini-2.5-flash")
    assert e.total_tokens == 15 and e.cached_tokens == 3 and e.reasoning_tokens == 2 and e.status == "failure"
    assert len(e.end_user) == 256 and list(e.request_tags) == ["a", "b"]  # clipped, only strings
    assert e.metadata["error_type"] == "UPSTREAM_TIMEOUT" and e.metadata["fallback_used"] == "pro"
    row = row_from_charge("1800000000123-0", {"rid": "r1", "cost": "42", "how": "failed",
                                              "attrib": '{"key": "kid", "team": "t"}', "model": "flash",
                                              "log": entry_to_json(e)})
    assert row["charged_at"] == 1_800_000_000.123 and row["spend_micros"] == 42 and row["key_id"] == "kid"
    assert row["team_id"] == "t" and row["user_id"] == "" and row["api_key"] == "ab" * 32
    assert row["model"] == "gemini-2.5-flash" and row["start_time"] == 100.0 and row["charge"] == "failed"
    back = row_to_entry({**row, "request_id": "r1"})
    assert back.request_id == "r1" and back.spend_micros == 42 and back.metadata["attempts"] == 2


def test_sweep_row_without_router_facts():
    row = row_from_charge("1800000000000-1", {"rid": "dead", "cost": "700", "how": "expired", "attrib": "{}",
                                              "model": "flash", "log": ""})
    assert row["status"] == "failure" and row["start_time"] == row["charged_at"] == 1_800_000_000.0
    assert row["model_group"] == "flash" and row["total_tokens"] == 0 and row["request_tags"] == []
    # a late settle correcting a swept charge may lower it; ordinary charges never go negative
    assert row_from_charge("1-0", {"rid": "r:corrected", "cost": "-300", "how": "corrected"})["spend_micros"] == -300
    assert row_from_charge("1-0", {"rid": "r", "cost": "-300", "how": "settled"})["spend_micros"] == 0
    # garbage in the staged facts is ignored, not fatal
    assert row_from_charge("1-0", {"rid": "x", "cost": "1", "how": "settled", "log": "{nope"})["status"] == "success"


def test_compose_has_durable_redis_postgres_and_health_ordering():
    c = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "--appendonly" in c["redis"]["command"] and "yes" in c["redis"]["command"]
    assert "healthcheck" in c["redis"] and "healthcheck" in c["postgres"]
    assert c["budget"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert c["budget"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert c["budget"]["environment"]["DATABASE_URL"].startswith("postgresql://")
