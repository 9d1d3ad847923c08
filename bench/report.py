"""Benchmark rows -> a markdown report."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Row:
    name: str
    rps: float | None = None  # requests/s at saturation
    p50_c1: float | None = None  # seconds, concurrency 1
    p99_c1: float | None = None
    p50_c32: float | None = None
    p99_c32: float | None = None
    ttft_p50: float | None = None  # streams, concurrency 1
    added_p50_c1: float | None = None  # vs direct
    added_p99_c1: float | None = None
    added_p50_c32: float | None = None
    added_p99_c32: float | None = None
    added_ttft: float | None = None
    errors: int = 0
    note: str = ""
    requests: int = 0  # requests sent for this row (all measurements)
    failed: bool = False  # errors or non-2xx answers: the run exits non-zero


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    memory: dict[str, int | None] = field(default_factory=dict)  # process -> RSS KiB
    settings: dict[str, str] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)  # further markdown (ratios, peer comparison)

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.rows)


def memory_totals(memory: dict[str, int | None]) -> dict[str, int]:
    """Sum of RSS per group ("no keys: rest_facade" belongs to group "no keys"); ungrouped -> "all"."""
    totals: dict[str, int] = {}
    for name, kib in memory.items():
        group = name.split(": ", 1)[0] if ": " in name else "all"
        totals[group] = totals.get(group, 0) + (kib or 0)
    return totals


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 1000:.2f}"


def _rps(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f}"


def render(report: Report) -> str:
    lines = ["# gemgate benchmark", ""]
    if report.settings:
        lines += ["Settings: " + ", ".join(f"{k}={v}" for k, v in report.settings.items()), ""]
    lines += [
        "| target | req/s (sat.) | p50 c1 ms | p99 c1 ms | p50 c32 ms | p99 c32 ms | TTFT p50 ms "
        "| added p50 c1 | added p99 c1 | added p50 c32 | added p99 c32 | added TTFT | errors | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report.rows:
        lines.append(
            f"| {r.name} | {_rps(r.rps)} | {_ms(r.p50_c1)} | {_ms(r.p99_c1)} | {_ms(r.p50_c32)} | {_ms(r.p99_c32)} "
            f"| {_ms(r.ttft_p50)} | {_ms(r.added_p50_c1)} | {_ms(r.added_p99_c1)} | {_ms(r.added_p50_c32)} "
            f"| {_ms(r.added_p99_c32)} | {_ms(r.added_ttft)} | {r.errors} | {r.note} |"
        )
    if report.memory:
        lines += ["", "| gemgate process | RSS MiB |", "|---|---:|"]
        for name, kib in report.memory.items():
            lines.append(f"| {name} | {'n/a' if kib is None else f'{kib / 1024:.1f}'} |")
        for group, kib in memory_totals(report.memory).items():
            label = "total, all gemgate processes" if group == "all" else f"{group}: total, all gemgate processes"
            lines.append(f"| **{label}** | **{kib / 1024:.1f}** |")
    if report.extra:
        lines += [""] + report.extra
    lines += ["", "Added = through gemgate minus direct to the mock upstream (same load, same machine).", ""]
    return "\n".join(lines)
