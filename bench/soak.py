"""Soak (`python -m bench --soak MINUTES [--rate RPS]`, `make bench-soak`): gemgate with a master key and
a budgeted virtual key, a constant request rate (non-streaming and every 10th request streaming) for
MINUTES, each gemgate process's RSS sampled every --sample seconds. After the warm-up the growth per
process and in total is reported (target: under 5%), with the request and error counts; errors or
growth >= 5% fail the run. Same pinning and mock as the main benchmark.
"""

from __future__ import annotations

import asyncio
from collections import Counter
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import procs
from bench.gateway import MODEL_GROUP, generate_key, start_gateway
from bench.loadgen import Target, make_client, one_request
from bench.mock_upstream import MockSettings
from bench.nginx_mock import start_upstream
from bench.stats import Sample, percentile

GROWTH_LIMIT = 5.0  # percent
MASTER_KEY = "sk-bench-master-key"


@dataclass
class Snapshot:
    t: float  # seconds since the start of the load
    rss: dict[str, int | None]  # label -> KiB
    pids: dict[str, int]
    sent: int
    errors: int


@dataclass
class SoakResult:
    minutes: float
    rate: float
    warmup_s: float
    snapshots: list[Snapshot] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    dropped: int = 0  # ticks skipped because max_in_flight requests were still open
    settings: dict[str, str] = field(default_factory=dict)
    restarted: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if not s.ok)

    def baseline(self) -> Snapshot | None:
        return next((s for s in self.snapshots if s.t >= self.warmup_s), None)

    def growth(self) -> dict[str, tuple[float, float, float, float]]:
        """label -> (baseline MiB, final MiB, max after warm-up MiB, growth %), plus "total"."""
        base = self.baseline()
        if base is None or base is self.snapshots[-1]:
            return {}
        after = [s for s in self.snapshots if s.t >= self.warmup_s]
        last = after[-1]
        out = {}
        labels = [k for k, v in base.rss.items() if v]
        for label in labels + ["total"]:
            def val(s: Snapshot) -> float:
                return (sum(v or 0 for k, v in s.rss.items() if k in labels) if label == "total"
                        else (s.rss.get(label) or 0)) / 1024
            b, f = val(base), val(last)
            out[label] = (b, f, max(val(s) for s in after), (f - b) / b * 100 if b else 0.0)
        return out

    @property
    def failed(self) -> bool:
        g = self.growth()
        return bool(self.errors or not g or g["total"][3] >= GROWTH_LIMIT or self.restarted)


def render_soak(r: SoakResult) -> str:
    ok = [s.latency for s in r.samples if s.ok]
    span = r.snapshots[-1].t if r.snapshots else 0.0
    lines = ["# gemgate soak", "", "Settings: " + ", ".join(f"{k}={v}" for k, v in r.settings.items()), "",
             f"Requests: {len(r.samples)} sent over {span / 60:.1f} min ({len(r.samples) / span if span else 0:.1f}/s "
             f"achieved of {r.rate:g}/s asked), {r.errors} errors, {r.dropped} ticks skipped (in-flight cap); "
             f"latency p50 {1000 * (percentile(ok, 50) or 0):.2f} ms, p99 {1000 * (percentile(ok, 99) or 0):.2f} ms.",
             "", f"RSS after a {r.warmup_s / 60:.1f} min warm-up (baseline = first sample after it):", "",
             "| gemgate process | baseline MiB | final MiB | max MiB | growth % | < 5% |", "|---|---:|---:|---:|---:|---|"]
    for label, (b, f, m, g) in r.growth().items():
        name = "**total, all gemgate processes**" if label == "total" else label
        lines.append(f"| {name} | {b:.1f} | {f:.1f} | {m:.1f} | {g:+.2f} | {'yes' if g < GROWTH_LIMIT else '**NO**'} |")
    if not r.growth():
        lines.append("| (no sample after the warm-up: run longer than --warmup) | | | | | **NO** |")
    reasons = Counter(s.error or "failed" for s in r.samples if not s.ok)
    if reasons:
        lines += ["", "Errors by reason: " + ", ".join(f"{k} x{v}" for k, v in reasons.most_common())]
    if r.restarted:
        lines += ["", "Processes restarted during the soak (new pid): " + ", ".join(r.restarted)]
    lines += ["", "Timeline (total RSS of all gemgate processes):", "", "| minute | total RSS MiB | requests | errors |",
              "|---:|---:|---:|---:|"]
    step = max(1, round(60 / max(1.0, r.snapshots[1].t - r.snapshots[0].t))) if len(r.snapshots) > 1 else 1
    for s in r.snapshots[::step] + ([r.snapshots[-1]] if r.snapshots and (len(r.snapshots) - 1) % step else []):
        lines.append(f"| {s.t / 60:.1f} | {sum(v or 0 for v in s.rss.values()) / 1024:.1f} | {s.sent} | {s.errors} |")
    lines += ["", f"Result: {'FAILED' if r.failed else 'passed'} (errors, restarts, or total growth >= {GROWTH_LIMIT}% fail)", ""]
    return "\n".join(lines)


async def drive(target: Target, result: SoakResult, duration: float, rate: float, on_tick,
                max_in_flight: int = 64) -> None:
    """Constant rate: one request every 1/rate seconds (every 10th a stream), at most max_in_flight open."""
    clients = [make_client(8) for _ in range(max(1, max_in_flight // 8))]
    in_flight: set[asyncio.Task] = set()
    interval, n = 1.0 / rate, 0
    t0 = time.perf_counter()
    try:
        while True:
            now = time.perf_counter() - t0
            if now >= duration:
                break
            due = int(now / interval) + 1
            while n < due:
                if len(in_flight) >= max_in_flight:
                    result.dropped += 1
                else:
                    task = asyncio.create_task(one_request(clients[n % len(clients)], target, n % 10 == 9))
                    task.add_done_callback(lambda t: (in_flight.discard(t), result.samples.append(
                        t.result() if not t.cancelled() and t.exception() is None else Sample(False, 0.0))))
                    in_flight.add(task)
                n += 1
            on_tick(now)
            await asyncio.sleep(min(interval, 0.05))
        if in_flight:
            await asyncio.wait(in_flight, timeout=30)
    finally:
        for c in clients:
            await c.aclose()


async def run_soak(minutes: float, rate: float, warmup_min: float | None, sample_s: float, out: Path,
                   mock: str = "auto") -> SoakResult:
    warmup = (warmup_min if warmup_min is not None else min(3.0, max(0.5, minutes * 0.1))) * 60
    split = procs.cpu_split()
    bench_cpus, gw_cpus = split if split else (None, None)
    if bench_cpus:
        procs.pin(bench_cpus)
    upstream = start_upstream(MockSettings(), bench_cpus, prefer=mock)
    result = SoakResult(minutes, rate, warmup)
    result.settings = {
        "machine": procs.machine(), "minutes": f"{minutes:g}", "rate": f"{rate:g}/s (every 10th a stream)",
        "keys": "master key + budgeted virtual key", "RSS sample": f"every {sample_s:g}s",
        "mock upstream": upstream.kind,
        "cpu pinning": (f"load+mock=CPU {sorted(bench_cpus)}, gemgate=CPU {sorted(gw_cpus)}, Redis unpinned"
                        if split else "off"),
    }
    try:
        gw = await start_gateway(upstream.url, master_key=MASTER_KEY, cpus=gw_cpus)
        try:
            key = await generate_key(gw, MASTER_KEY)
            if key is None:
                raise RuntimeError("soak needs /key/generate")
            target = Target("soak", gw.base_url, "openai", MODEL_GROUP, {"Authorization": f"Bearer {key}"})
            next_sample = [0.0]
            first_pids: dict[str, int] = {}

            def on_tick(now: float, force: bool = False) -> None:
                if now < next_sample[0] and not force:
                    return
                next_sample[0] = now + sample_s
                pids = gw.processes()
                rss = {label: procs.rss_kib(pid) for label, pid in pids.items()}
                for label, pid in pids.items():
                    if first_pids.setdefault(label, pid) != pid and label not in result.restarted:
                        result.restarted.append(label)
                snap = Snapshot(now, rss, pids, len(result.samples), result.errors)
                result.snapshots.append(snap)
                if len(result.snapshots) % max(1, round(60 / sample_s)) == 1:
                    total = sum(v or 0 for v in rss.values()) / 1024
                    print(f"soak: {now / 60:5.1f} min, {snap.sent} requests, {snap.errors} errors, "
                          f"gemgate RSS {total:.1f} MiB", file=sys.stderr, flush=True)

            await drive(target, result, minutes * 60, rate, on_tick)
            on_tick(minutes * 60, force=True)  # the final sample, after the last answers
        finally:
            gw.stop()
    finally:
        upstream.stop()
    text = render_soak(result)
    print(text)
    out.write_text(text)
    return result
