from __future__ import annotations

from datetime import datetime, timezone

import pytest

from budget_service.durations import duration_seconds, iso, parse_duration
from budget_service.keys import display_name, hash_key, is_hash, new_key, same_secret
from gemgate.errors import GatewayError


def ts(*a) -> float:
    return datetime(*a, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("30m", 1800), ("30h", 108000), ("30d", 2592000)])
def test_second_periods(text, seconds):
    p = parse_duration(text)
    assert p.seconds == seconds
    now = 1_800_000_000.0
    assert p.period_id(now) == int(now // seconds)
    assert p.period_id(p.period_end(now)) == p.period_id(now) + 1
    assert p.period_id(p.period_end(now) - 0.001) == p.period_id(now)


def test_month_periods():
    p = parse_duration("1mo")
    assert p.period_id(ts(2026, 1, 31, 23, 59, 59)) + 1 == p.period_id(ts(2026, 2, 1))
    assert p.period_end(ts(2026, 12, 15)) == ts(2027, 1, 1)
    q = parse_duration("3mo")
    assert q.period_id(ts(2026, 1, 1)) == q.period_id(ts(2026, 3, 31)) != q.period_id(ts(2026, 4, 1))


@pytest.mark.parametrize("bad", ["", "30", "d", "0d", "1w", "-1d", "1.5h"])
def test_bad_durations(bad):
    with pytest.raises(GatewayError):
        parse_duration(bad)


def test_duration_seconds_and_iso():
    assert duration_seconds("1h", 0) == 3600
    assert duration_seconds("1mo", ts(2026, 1, 31)) == ts(2026, 2, 28) - ts(2026, 1, 31)
    assert iso(ts(2026, 1, 1)) == "2026-01-01T00:00:00Z" and iso(None) == ""


def test_keys():
    k = new_key()
    assert k.startswith("sk-") and len(k) >= 3 + 64  # 48 random bytes, base64url
    assert new_key() != k
    h = hash_key(k)
    assert is_hash(h) and not is_hash(k)
    assert display_name(k) == "sk-..." + k[-4:]
    assert same_secret("sk-a", "sk-a") and not same_secret("sk-a", "sk-b")
