"""python -m bench [--quick] [--peer] [--soak MIN [--rate RPS]] [--workers N] [--out FILE] [--no-database]

Default run, against a zero-latency mock Gemini (nginx when installed, else Python) with wrk as the load
generator (else the Python one): requests/s at c=32, p50/p99 at c=1 and c=32, stream TTFT, for
direct-to-upstream, gemgate without keys, gemgate with a budgeted virtual key, and the same with
database_url (spend log in a throwaway PostgreSQL schema); added latency vs direct and each gemgate
process's RSS. gemgate (all its processes) is pinned to one CPU, the load generator and the mock to
another. --peer adds LiteLLM's proxy (bench/peer.py; a throwaway venv outside the project) measured
the same way, and the ratios. --soak runs gemgate with keys at a constant rate and reports RSS growth
(bench/soak.py). --workers N compares gemgate --num_workers N on N CPUs with one worker on one CPU
(bench/scaling.py). Any failed request or non-2xx answer fails the row and the run (exit status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from bench import procs
from bench.database import DEFAULT_URL, BenchDatabase
from bench.gateway import MODEL_GROUP, generate_key, key_spend, start_gateway
from bench.loadgen import Target
from bench.measure import FULL, QUICK, Loader, Plan, fail_loudly, measure, with_added
from bench.mock_upstream import MockSettings
from bench.nginx_mock import MOCK_MODEL, Upstream, start_upstream
from bench.report import Report, Row, render

MASTER_KEY = "sk-bench-master-key"
HERE = Path(__file__).resolve().parent


def settings_line(mode: str, plan: Plan, loader: Loader, upstream: Upstream, split) -> dict[str, str]:
    bench_cpus, gw_cpus = split if split else (None, None)
    return {
        "mode": mode,
        "machine": procs.machine(),
        "load": loader.name + (f" (c=1 and c=32 for {plan.wrk_seconds:.0f}s each)" if loader.wrk else ""),
        "mock upstream": f"{upstream.kind}, latency {plan.latency}s, {plan.chunks} stream chunks",
        "cpu pinning": (f"load+mock=CPU {sorted(bench_cpus)}, gemgate (all processes)=CPU {sorted(gw_cpus)}, "
                        "Redis unpinned (shared instance)") if split else "off (fewer than 2 usable CPUs)",
        "body": "system + user message, max_tokens 64",
    }


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


async def measure_keyed(gw, name: str, plan: Plan, loader: Loader, direct: Row) -> Row | None:
    key = await generate_key(gw, MASTER_KEY)
    if key is None:
        return None
    row = with_added(await measure(Target(name, gw.base_url, "openai", MODEL_GROUP,
                                          {"Authorization": f"Bearer {key}"}), plan, loader), direct)
    await asyncio.sleep(0.5)  # settlement is off the response path
    spend = await key_spend(gw, key)
    if not row.failed and not spend:
        fail_loudly(row, f"the key was not charged (spend {spend}): the mock's usageMetadata was not billed")
    elif spend:
        row.note = (row.note + "; " if row.note else "") + f"key spend ${spend:.4f} after {row.requests} requests"
    return row


async def measure_database(upstream: str, plan: Plan, loader: Loader, direct: Row, gw_cpus, report: Report,
                           url: str) -> None:
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
            t0 = time.monotonic()
            row = await measure_keyed(gw, name, plan, loader, direct)
            if row is None:
                report.rows.append(Row(name, note="n/a: /key/generate unavailable"))
                return
            load_s = time.monotonic() - t0
            last, settled = await db.rows(), time.monotonic()
            while time.monotonic() - settled < 1.0:  # keep counting until the outbox is drained
                await asyncio.sleep(0.1)
                n = await db.rows()
                if n != last:
                    last, settled = n, time.monotonic()
            drain_s = max(0.0, settled - t0 - load_s)
            rate = await outbox_capacity(gw, db, last)
            row.note = (row.note + "; " if row.note else "") + (
                f"spend log kept up: {last} rows, all written {drain_s:.1f}s after the load; "
                f"outbox write capacity {rate:.0f} rows/s")
            report.rows.append(row)
            report.memory.update({f"database: {k}": v for k, v in gw.memory().items()})
        finally:
            gw.stop()
    finally:
        await db.drop()


async def run(plan: Plan, out: Path, mode: str = "full", database_url: str | None = DEFAULT_URL,
              loader: Loader | None = None, mock: str = "auto", peer: bool = False) -> Report:
    loader = loader or Loader()
    split = procs.cpu_split()
    bench_cpus, gw_cpus = split if split else (None, None)
    if bench_cpus:
        procs.pin(bench_cpus)  # this process, wrk and the mock (children inherit)
    upstream = start_upstream(MockSettings(plan.latency, plan.chunks), bench_cpus, prefer=mock)
    report = Report(settings=settings_line(mode, plan, loader, upstream, split))
    try:
        direct = await measure(Target("direct (mock upstream)", upstream.url, "gemini", MOCK_MODEL), plan, loader)
        report.rows.append(direct)

        gw = await start_gateway(upstream.url, cpus=gw_cpus)
        try:
            row = await measure(Target("gemgate, no keys", gw.base_url, "openai", MODEL_GROUP), plan, loader)
            report.rows.append(with_added(row, direct))
            report.memory.update({f"no keys: {k}": v for k, v in gw.memory().items()})
        finally:
            gw.stop()

        try:
            gw = await start_gateway(upstream.url, master_key=MASTER_KEY, cpus=gw_cpus)
        except RuntimeError as exc:
            report.rows.append(Row("gemgate, master key + virtual key", note=f"n/a: {str(exc).splitlines()[0]}"))
        else:
            try:
                row = await measure_keyed(gw, "gemgate, virtual key with budget", plan, loader, direct)
                if row is None:
                    report.rows.append(Row("gemgate, master key + virtual key", note="n/a: /key/generate unavailable"))
                else:
                    report.rows.append(row)
                    report.memory.update({f"keys: {k}": v for k, v in gw.memory().items()})
            finally:
                gw.stop()
        if database_url:
            await measure_database(upstream.url, plan, loader, direct, gw_cpus, report, database_url)
        if peer:
            from bench.peer import measure_peer

            await measure_peer(upstream.url, plan, loader, direct, gw_cpus, report)
    finally:
        upstream.stop()
    text = render(report)
    print(text)
    out.write_text(text)
    return report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter measurements; finishes in under 2 minutes")
    ap.add_argument("--out", default=None, help="report file (default bench/results.md, bench/soak.md, "
                                                "bench/workers.md by mode)")
    ap.add_argument("--latency", type=float, default=None, help="mock upstream latency in seconds (Python mock)")
    ap.add_argument("--chunks", type=int, default=None, help="mock stream chunk count")
    ap.add_argument("--load", choices=("auto", "wrk", "python"), default="auto",
                    help="load generator (auto: wrk when installed)")
    ap.add_argument("--mock", choices=("auto", "nginx", "python"), default="auto",
                    help="mock upstream (auto: nginx when installed and no latency is asked for)")
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
                    help=f"PostgreSQL for the database_url row (a temporary schema; default {DEFAULT_URL})")
    ap.add_argument("--no-database", action="store_true", help="skip the database_url row")
    ap.add_argument("--peer", action="store_true", help="also measure LiteLLM's proxy (throwaway venv) and "
                                                        "print the ratios")
    ap.add_argument("--soak", type=float, metavar="MINUTES", help="soak: gemgate with keys at --rate for MINUTES")
    ap.add_argument("--rate", type=float, default=50.0, help="soak request rate per second (default 50)")
    ap.add_argument("--warmup", type=float, default=None, metavar="MINUTES",
                    help="soak warm-up excluded from the growth figure (default: 10%% of the run, 0.5..3 min)")
    ap.add_argument("--sample", type=float, default=10.0, metavar="SECONDS", help="soak RSS sampling interval")
    ap.add_argument("--workers", type=int, metavar="N",
                    help="scaling: gemgate --num_workers N on N CPUs vs 1 worker on 1 CPU (throughput ratio)")
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
    loader = Loader(args.load)
    t0 = time.monotonic()
    if args.soak is not None:
        from bench.soak import run_soak

        report = asyncio.run(run_soak(args.soak, args.rate, args.warmup, args.sample,
                                      Path(args.out or HERE / "soak.md"), mock=args.mock))
    elif args.workers is not None:
        from bench.scaling import run_scaling

        report = asyncio.run(run_scaling(args.workers, plan, loader, Path(args.out or HERE / "workers.md"),
                                         mock=args.mock))
    else:
        report = asyncio.run(run(plan, Path(args.out or HERE / "results.md"), "quick" if args.quick else "full",
                                 None if args.no_database else args.database_url, loader, args.mock, args.peer))
    print(f"benchmark finished in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    if report.failed:
        print("bench: FAILED: see the FAILED notes above (errors, non-2xx answers, or a target the mode enforces)",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
