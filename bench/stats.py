"""Samples -> summary numbers (percentiles by nearest rank)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Sample:
    ok: bool
    latency: float  # seconds, request start -> last byte
    ttft: float | None = None  # seconds, request start -> first content chunk (streams)
    error: str = ""  # why a failed request failed: "HTTP 503", "ReadTimeout", ...


@dataclass
class Summary:
    requests: int
    errors: int
    elapsed: float
    rps: float
    p50: float | None
    p99: float | None
    ttft_p50: float | None
    ttft_p99: float | None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


def summarize(samples: list[Sample], elapsed: float) -> Summary:
    ok = [x for x in samples if x.ok]
    lat = [x.latency for x in ok]
    ttft = [x.ttft for x in ok if x.ttft is not None]
    return Summary(
        requests=len(samples), errors=len(samples) - len(ok), elapsed=elapsed,
        rps=(len(ok) / elapsed) if elapsed > 0 else 0.0,
        p50=percentile(lat, 50), p99=percentile(lat, 99),
        ttft_p50=percentile(ttft, 50), ttft_p99=percentile(ttft, 99),
    )


def added(through: float | None, direct: float | None) -> float | None:
    """Gateway overhead: through-gateway minus direct-to-upstream (None if either is missing)."""
    if through is None or direct is None:
        return None
    return through - direct
