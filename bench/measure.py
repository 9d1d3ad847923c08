"""One benchmark row: warm-up, c=1 latency, c=32 throughput (wrk when installed, else the Python load
generator) and stream TTFT (always the Python load generator: wrk cannot see the first chunk)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from bench.loadgen import Target, run_load
from bench.report import Row
from bench.stats import added, summarize
from bench.wrk import find_wrk, run_wrk


@dataclass
class Plan:
    c1_requests: int  # Python load generator: requests per measurement (also bounded by max_duration)
    c32_requests: int
    stream_requests: int
    max_duration: float  # per Python measurement
    latency: float
    chunks: int
    wrk_seconds: float = 10.0  # per wrk measurement (c=1, then c=32)


QUICK = Plan(c1_requests=100, c32_requests=800, stream_requests=50, max_duration=8.0, latency=0.0, chunks=5,
             wrk_seconds=5.0)
FULL = Plan(c1_requests=500, c32_requests=5000, stream_requests=200, max_duration=30.0, latency=0.0, chunks=5,
            wrk_seconds=15.0)


class Loader:
    """Which load generator: wrk (path) or the Python one (None)."""

    def __init__(self, prefer: str = "auto") -> None:
        self.wrk = None if prefer == "python" else find_wrk()
        if prefer == "wrk" and not self.wrk:
            raise RuntimeError("--load wrk: wrk is not installed")

    @property
    def name(self) -> str:
        return "wrk" if self.wrk else "python"


def fail_loudly(row: Row, what: str) -> None:
    row.failed = True
    row.note = (row.note + "; " if row.note else "") + f"FAILED: {what}"
    print(f"bench: ROW FAILED: {row.name}: {what}", file=sys.stderr, flush=True)


async def measure(target: Target, plan: Plan, loader: Loader, *, c_high: int = 32) -> Row:
    row = Row(target.name)
    warm, _ = await run_load(target, concurrency=4, requests=20, max_duration=5)  # connections, caches
    bad = [s for s in warm if not s.ok]
    if bad:
        row.errors = len(bad)
        fail_loudly(row, f"{len(bad)}/{len(warm)} warm-up requests failed")
        return row
    problems = []
    if loader.wrk:
        url, body = target.request(False)
        r1 = await run_wrk(loader.wrk, url, body, target.headers, connections=1, duration=plan.wrk_seconds)
        rh = await run_wrk(loader.wrk, url, body, target.headers, connections=c_high, duration=plan.wrk_seconds)
        row.rps, row.p50_c1, row.p99_c1, row.p50_c32, row.p99_c32 = rh.rps, r1.p50, r1.p99, rh.p50, rh.p99
        row.requests = r1.requests + rh.requests
        row.errors = r1.errors + rh.errors
        problems += [f"c=1: {r1.error_text()}"] if r1.errors else []
        problems += [f"c={c_high}: {rh.error_text()}"] if rh.errors else []
    else:
        s1, e1 = await run_load(target, concurrency=1, requests=plan.c1_requests, max_duration=plan.max_duration)
        sh, eh = await run_load(target, concurrency=c_high, requests=plan.c32_requests, max_duration=plan.max_duration)
        a, b = summarize(s1, e1), summarize(sh, eh)
        row.rps, row.p50_c1, row.p99_c1, row.p50_c32, row.p99_c32 = b.rps, a.p50, a.p99, b.p50, b.p99
        row.requests = a.requests + b.requests
        row.errors = a.errors + b.errors
        problems += [f"{row.errors} failed requests"] if row.errors else []
    st, et = await run_load(target, concurrency=1, requests=plan.stream_requests, max_duration=plan.max_duration,
                            stream=True)
    c = summarize(st, et)
    row.ttft_p50 = c.ttft_p50
    row.requests += c.requests
    row.errors += c.errors
    problems += [f"streams: {c.errors} failed"] if c.errors else []
    if problems:
        fail_loudly(row, "; ".join(problems))
    return row


def with_added(row: Row, direct: Row) -> Row:
    row.added_p50_c1 = added(row.p50_c1, direct.p50_c1)
    row.added_p99_c1 = added(row.p99_c1, direct.p99_c1)
    row.added_p50_c32 = added(row.p50_c32, direct.p50_c32)
    row.added_p99_c32 = added(row.p99_c32, direct.p99_c32)
    row.added_ttft = added(row.ttft_p50, direct.ttft_p50)
    return row
