"""python -m bench [--quick] [--out bench/results.md] [--database-url URL | --no-database]

Measures, against a mock Gemini upstream on loopback: requests/s at saturation, p50/p99 latency at
concurrency 1 and 32, stream TTFT, for direct-to-upstream, gemgate without keys, gemgate with a
master key + budgeted virtual key, and the same with database_url (PostgreSQL spend log, in a schema
of its own that is dropped afterwards); reports the added latency, the spend-log write rate and each
gemgate process's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


from bench import procs
from bench.database import DEFAULT_URL, BenchDatabase
from bench.gateway import MODEL_GROUP, generate_key, start_gateway
from bench.loadgen import Target, run_load
from bench.report import Report, Row, render
from bench.stats import added, summarize

MASTER_KEY = "sk-bench-master-key"


@dataclass
class Plan:
    c1_requests: int
    c32_requests: int
    stream_requests: int
    max_duration: float  # per measurement
    latency: float
    chunks: int


QUICK = Plan(c1_requests=100, c32_requests=800, stream_requests=50, max_duration=8.0, latency=0.0, chunks=5)
FULL = Plan(c1_requests=500, c32_requests=5000, stream_requests=200, max_duration=30.0, latency=0.0, chunks=5)


async def measure(target: Target, plan: Plan) -> Row:
    row = Row(target.name)
    await run_load(target, concurrency=4, requests=20, max_duration=5)  # warm up connections and caches
    s1, e1 = await run_load(target, concurrency=1, requests=plan.c1_requests, max_duration=plan.max_duration)
    s32, e32 = await run_load(target, concurrency=32, requests=plan.c32_requests, max_duration=plan.max_duration)
    st, et = await run_load(target, concurrency=1, requests=plan.stream_requests, max_duration=plan.max_duration,
                            stream=True)
    a, b, c = summarize(s1, e1), summarize(s32, e32), summarize(st, et)
    row.rps, row.p50_c1, row.p99_c1, row.p50_c32, row.p99_c32 = b.rps, a.p50, a.p99, b.p50, b.p99
    row.ttft_p50 = c.ttft_p50
    row.errors = a.errors + b.errors + c.errors
    return row


def with_added(row: Row, direct: Row) -> Row:
    row.added_p50_c1 = added(row.p50_c1, direct.p50_c1)
    row.added_p99_c1 = added(row.p99_c1, direct.p99_c1)
    row.added_p50_c32 = added(row.p50_c32, direct.p50_c32)
    row.added_p99_c32 = added(row.p99_c32, direct.p99_c32)
    row.added_ttft = added(row.ttft_p50, direct.ttft_p50)
    return row


def start_mock(plan: Plan, cpus: set[int] | None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.mock_upstream", "--port", "0", "--latency", str(plan.latency),
         "--chunks", str(plan.chunks)],
        stdout=subprocess.PIPE, text=True, preexec_fn=(lambda: procs.pin(cpus)) if cpus else None,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    line = proc.stdout.readline()  # "mock gemini listening on 127.0.0.1:PORT"
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"mock upstream did not start: {line!r}")
    return proc, "http://" + line.rsplit(" ", 1)[1].strip()


async def outbox_capacity(gw, db: BenchDatabase, have: int, n: int = 20000) -> float:
    """Sustained spend-log write rate: n charges appended to the gateway's outbox at once, timed
    until PostgreSQL holds them all (synthetic zero-cost rows in the run's own schema)."""
    import redis.asyncio as aioredis

    from bench.gateway import redis_prefix

    r = aioredis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True)
    try:
        async with r.pipeline(transaction=False) as p:
            for i in range(n):
                p.xadd(redis_prefix(gw.port) + "outbox", {"rid": f"bench-capacity-{i}", "cost": 0, "how": "settled",
                                                         "attrib": "{}", "model": MODEL_GROUP, "log": ""})
            t0 = time.monotonic()
            await p.execute()
    finally:
        await r.aclose()
    deadline = t0 + 120
    while time.monotonic() < deadline and await db.rows() < have + n:
        await asyncio.sleep(0.05)
    return n / (time.monotonic() - t0)


async def measure_database(upstream: str, plan: Plan, direct: Row, gw_cpus, report: Report, url: str) -> None:
    """Virtual key with budget + database_url: the added latency, and how fast the spend log fills."""
    name = "gemgate, virtual key + database_url"
    db = BenchDatabase(url)
    try:
        await db.create()
    except Exception as exc:  # no PostgreSQL here: say so instead of failing the whole run
        report.rows.append(Row(name, note=f"n/a: PostgreSQL unreachable ({type(exc).__name__})"))
        return
    try:
        gw = await start_gateway(upstream, master_key=MASTER_KEY, cpus=gw_cpus, database_url=db.gateway_url)
        try:
            key = await generate_key(gw, MASTER_KEY)
            t = Target(name, gw.base_url, "openai", MODEL_GROUP, {"Authorization": f"Bearer {key}"})
            t0 = time.monotonic()
            row = with_added(await measure(t, plan), direct)
            load_s = time.monotonic() - t0
            sent = await db.rows()
            # keep counting until the outbox is drained (rows stop arriving)
            last, settled = sent, time.monotonic()
            while time.monotonic() - settled < 1.0:
                await asyncio.sleep(0.1)
                n = await db.rows()
                if n != last:
                    last, settled = n, time.monotonic()
            drain_s = max(0.0, settled - t0 - load_s)
            rate = await outbox_capacity(gw, db, last)
            row.note = (f"spend log kept up: {last} rows, all written {drain_s:.1f}s after the load; "
                        f"outbox write capacity {rate:.0f} rows/s")
            report.rows.append(row)
            report.memory.update({f"database: {k}": v for k, v in gw.memory().items()})
        finally:
            gw.stop()
    finally:
        await db.drop()


async def run(plan: Plan, out: Path, mode: str = "full", database_url: str | None = DEFAULT_URL) -> Report:
    split = procs.cpu_split()
    bench_cpus, gw_cpus = split if split else (None, None)
    if bench_cpus:
        procs.pin(bench_cpus)
    report = Report(settings={
        "mode": mode,
        "upstream latency s": str(plan.latency), "stream chunks": str(plan.chunks),
        "cpu pinning": f"bench+mock={sorted(bench_cpus)}, gemgate={sorted(gw_cpus)}" if split else "off",
    })
    mock, upstream = start_mock(plan, bench_cpus)
    try:
        direct = await measure(Target("direct (mock upstream)", upstream, "gemini", "mock-model"), plan)
        report.rows.append(direct)

        gw = await start_gateway(upstream, cpus=gw_cpus)
        try:
            row = await measure(Target("gemgate, no keys", gw.base_url, "openai", MODEL_GROUP), plan)
            report.rows.append(with_added(row, direct))
            report.memory.update({f"no keys: {k}": v for k, v in gw.memory().items()})
        finally:
            gw.stop()

        try:
            gw = await start_gateway(upstream, master_key=MASTER_KEY, cpus=gw_cpus)
        except RuntimeError as exc:
            report.rows.append(Row("gemgate, master key + virtual key", note=f"n/a: {str(exc).splitlines()[0]}"))
        else:
            try:
                key = await generate_key(gw, MASTER_KEY)
                if key is None:
                    report.rows.append(Row("gemgate, master key + virtual key", note="n/a: /key/generate unavailable"))
                else:
                    t = Target("gemgate, virtual key with budget", gw.base_url, "openai", MODEL_GROUP,
                               {"Authorization": f"Bearer {key}"})
                    report.rows.append(with_added(await measure(t, plan), direct))
                    report.memory.update({f"keys: {k}": v for k, v in gw.memory().items()})
            finally:
                gw.stop()
        if database_url:
            await measure_database(upstream, plan, direct, gw_cpus, report, database_url)
    finally:
        mock.terminate()
        mock.wait(5)
    text = render(report)
    print(text)
    out.write_text(text)
    return report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer requests; finishes in under 2 minutes")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results.md"))
    ap.add_argument("--latency", type=float, default=None, help="mock upstream latency in seconds")
    ap.add_argument("--chunks", type=int, default=None, help="mock stream chunk count")
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
                    help=f"PostgreSQL for the database_url row (a temporary schema; default {DEFAULT_URL})")
    ap.add_argument("--no-database", action="store_true", help="skip the database_url row")
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.latency is not None or args.chunks is not None:
        plan = Plan(**{**plan.__dict__, **{k: v for k, v in (("latency", args.latency), ("chunks", args.chunks))
                                            if v is not None}})
    try:
        import uvloop  # type: ignore

        uvloop.install()
    except ImportError:
        pass
    t0 = time.monotonic()
    asyncio.run(run(plan, Path(args.out), "quick" if args.quick else "full",
                    None if args.no_database else args.database_url))
    print(f"benchmark finished in {time.monotonic() - t0:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
