"""Budget periods and key lifetimes: "30s" "30m" "30h" "30d" "1mo".

A period id is an integer that changes exactly at the period boundary; it is put in the Redis key of
the spend counter, so spend "resets" without any cron job. Second-based periods are aligned to the
Unix epoch (UTC); month periods to calendar months (UTC), counted from January 1970.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from gemgate.errors import invalid

_RE = re.compile(r"^\s*(\d+)\s*(s|m|h|d|mo)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Period:
    text: str
    count: int
    unit: str  # s m h d mo

    @property
    def seconds(self) -> int | None:
        return None if self.unit == "mo" else self.count * _SECONDS[self.unit]

    def period_id(self, now: float) -> int:
        if self.unit == "mo":
            dt = datetime.fromtimestamp(now, timezone.utc)
            return (dt.year * 12 + dt.month - 1 - 1970 * 12) // self.count
        return int(now // self.seconds)

    def period_end(self, now: float) -> float:
        pid = self.period_id(now) + 1
        if self.unit == "mo":
            months = pid * self.count
            return datetime(1970 + months // 12, months % 12 + 1, 1, tzinfo=timezone.utc).timestamp()
        return float(pid * self.seconds)

    def ttl(self, now: float) -> int:
        """How long a counter of the current period must live (until the end, plus a margin)."""
        return max(1, int(self.period_end(now) - now)) + 3600


MAX_SECONDS = 100 * 366 * 86400  # durations up to 100 years (beyond that datetimes overflow)
MAX_MONTHS = 1200


def parse_duration(text: str, field: str = "budget_duration") -> Period:
    m = _RE.match(text or "") if isinstance(text, str) and len(text) <= 32 else None
    if not m or int(m.group(1)) <= 0:
        raise invalid(
            f"{field}: {text!r} is not a duration; use e.g. '30s', '30m', '30h', '30d' or '1mo'", param=field
        )
    count, unit = int(m.group(1)), m.group(2)
    if (count > MAX_MONTHS) if unit == "mo" else (count * _SECONDS[unit] > MAX_SECONDS):
        raise invalid(f"{field}: {text!r} is longer than 100 years", param=field)
    return Period(text.strip(), count, unit)


def duration_seconds(text: str, now: float, field: str = "duration") -> float:
    """Length of a lifetime such as a key's `duration` starting at `now`."""
    p = parse_duration(text, field)
    return p.seconds if p.seconds is not None else _months_later(now, p.count) - now


def _months_later(now: float, months: int) -> float:
    dt = datetime.fromtimestamp(now, timezone.utc)
    total = dt.year * 12 + dt.month - 1 + months
    day = min(dt.day, 28)
    return dt.replace(year=total // 12, month=total % 12 + 1, day=day).timestamp()


def iso(ts: float | None) -> str:
    if not ts:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")
