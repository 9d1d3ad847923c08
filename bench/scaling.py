"""Worker scaling (`python -m bench --workers N`, `make bench-workers WORKERS=N`): gemgate with one worker
pinned to one CPU, then `gemgate --num_workers N` pinned to N CPUs, same mock, load and body; reports
the requests/s ratio at c=32 (issue #15 target: >= 1.8x for N=2), without keys and with a budgeted
virtual key.

The load generator and the mock stay on the first CPU. With fewer than N+1 CPUs the N-worker gateway
shares that CPU with them (said in the settings line): on a 2-CPU machine the ratio is then bounded by
the load side too. A gemgate that does not start N workers (it only notes and ignores --num_workers)
fails the row with that said, instead of reporting a meaningless ratio.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench import procs
from bench.gateway import MODEL_GROUP, Gateway, generate_key, start_gateway
from bench.loadgen import Target
from bench.measure import Loader, Plan, fail_loudly, measure, with_added
from bench.mock_upstream import MockSettings
from bench.nginx_mock import MOCK_MODEL, start_upstream
from bench.report import Report, Row, render

MASTER_KEY = "sk-bench-master-key"
RATIO_TARGET = 1.8


def cpu_plan(n: int) -> tuple[set[int], set[int], set[int], bool] | None:
    """(load+mock cpus, 1-worker cpus, n-worker cpus, n-worker cpus overlap the load's) or None."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    load, one = {cpus[0]}, {cpus[1]}
    if len(cpus) >= n + 1:
        return load, one, set(cpus[1:n + 1]), False
    return load, one, set(cpus[:n]), True


def worker_check(gw: Gateway, n: int, single_count: int) -> str | None:
    """Why this gateway is not running n workers (None when it looks like it is)."""
    count = len(gw.processes()) - 1  # descendants of the CLI
    if n > 1 and count <= single_count:
        log = gw.log.read_text(errors="replace") if gw.log.exists() else ""
        noted = next((ln.strip() for ln in log.splitlines() if "num_workers" in ln), "")
        return (f"gemgate --num_workers {n} started {count} processes, the same as one worker "
                f"({noted or 'no multi-worker support in this gemgate'})")
    return None


async def run_scaling(n: int, plan: Plan, loader: Loader, out: Path, mock: str = "auto") -> Report:
    if n < 1:
        raise SystemExit("--workers needs N >= 1")
    cp = cpu_plan(n)
    load_cpus, one_cpu, n_cpus, shared = cp if cp else (None, None, None, True)
    if load_cpus:
        procs.pin(load_cpus)
    upstream = start_upstream(MockSettings(plan.latency, plan.chunks), load_cpus, prefer=mock)
    report = Report(settings={
        "mode": f"workers (1 vs {n})",
        "machine": procs.machine(),
        "load": loader.name,
        "mock upstream": upstream.kind,
        "cpu pinning": ("off" if not cp else
                        f"load+mock=CPU {sorted(load_cpus)}, 1 worker=CPU {sorted(one_cpu)}, "
                        f"{n} workers=CPU {sorted(n_cpus)}" + (" (shares the load's CPU)" if shared else "")
                        + ", Redis unpinned"),
        "body": "system + user message, max_tokens 64",
    })
    rps: dict[tuple[str, int], float | None] = {}
    try:
        direct = await measure(Target("direct (mock upstream)", upstream.url, "gemini", MOCK_MODEL), plan, loader)
        report.rows.append(direct)
        single_count = 0
        for keyed in (False, True):
            for workers, cpus in ((1, one_cpu), (n, n_cpus)):
                kind = "virtual key with budget" if keyed else "no keys"
                name = f"gemgate, {workers} worker{'s' if workers > 1 else ''}, {len(cpus or ())} CPU, {kind}"
                extra = ("--num_workers", str(workers)) if workers > 1 else ()
                try:
                    gw = await start_gateway(upstream.url, master_key=MASTER_KEY if keyed else None, cpus=cpus,
                                             extra_args=extra)
                except RuntimeError as exc:
                    row = Row(name)
                    fail_loudly(row, f"gemgate did not start with {' '.join(extra) or 'defaults'}: "
                                     f"{str(exc).splitlines()[-1][:300]}")
                    report.rows.append(row)
                    continue
                try:
                    if workers == 1:
                        single_count = len(gw.processes()) - 1
                    why = worker_check(gw, workers, single_count)
                    if why:
                        row = Row(name)
                        fail_loudly(row, why)
                        report.rows.append(row)
                        continue
                    headers = {}
                    if keyed:
                        key = await generate_key(gw, MASTER_KEY)
                        headers = {"Authorization": f"Bearer {key}"}
                    row = with_added(await measure(Target(name, gw.base_url, "openai", MODEL_GROUP, headers),
                                                   plan, loader), direct)
                    report.rows.append(row)
                    rps[(kind, workers)] = None if row.failed else row.rps
                    report.memory.update({f"{workers} worker(s), {kind}: {k}": v for k, v in gw.memory().items()})
                finally:
                    gw.stop()
    finally:
        upstream.stop()
    report.extra += [f"| throughput ratio at c=32 ({n} workers / 1 worker) | measured | target |", "|---|---:|---:|"]
    for kind in ("no keys", "virtual key with budget"):
        a, b = rps.get((kind, n)), rps.get((kind, 1))
        value = "n/a" if not a or not b else f"{a / b:.2f}x"
        report.extra.append(f"| {kind} | {value} | >= {RATIO_TARGET}x |")
    text = render(report)
    print(text)
    out.write_text(text)
    return report
