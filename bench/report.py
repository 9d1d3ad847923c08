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
    extra: list[str] = field(default_factory=list)  # further markdown (e.g. the scaling table)
    peer_memory: dict[str, int | None] = field(default_factory=dict)  # LiteLLM process -> RSS KiB

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)

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
    if report.peer_memory:
        lines += ["", "| LiteLLM process | RSS MiB |", "|---|---:|"]
        for name, kib in report.peer_memory.items():
            lines.append(f"| {name} | {'n/a' if kib is None else f'{kib / 1024:.1f}'} |")
        total = sum(k or 0 for k in report.peer_memory.values())
        lines.append(f"| **total, all LiteLLM processes** | **{total / 1024:.1f}** |")
    lines += targets(report)
    if report.extra:
        lines += [""] + report.extra
    lines += ["", "Added = through gemgate minus direct to the mock upstream (same load, same machine).", ""]
    return "\n".join(lines)


NO_KEYS, KEYED, PEER = "gemgate, no keys", "gemgate, virtual key with budget", "LiteLLM proxy, master key"


def _check(value: float | None, limit: float, higher_is_better: bool = False) -> str:
    if value is None:
        return "n/a"
    return "yes" if (value >= limit if higher_is_better else value <= limit) else "**NO**"


def targets(report: Report) -> list[str]:
    """Issue #15's targets with this run's figures (and LiteLLM ratios when the peer row is there)."""
    nk, kd, peer = report.row(NO_KEYS), report.row(KEYED), report.row(PEER)
    out: list[tuple[str, str, str, str]] = []  # what, measured, target, met

    def ms(row: Row | None, attr: str) -> float | None:
        v = getattr(row, attr) if row and not row.failed else None
        return None if v is None else v * 1000

    for label, row, limit in (("no keys", nk, 1.0), ("virtual key + budget", kd, 1.5)):
        if row is None:
            continue
        v = ms(row, "added_p50_c1")
        out.append((f"added p50 at c=1, {label}", "n/a" if v is None else f"{v:.2f} ms", f"<= {limit} ms",
                    _check(v, limit)))
    for label, row in (("no keys", nk), ("virtual key + budget", kd)):
        if row is None:
            continue
        v = ms(row, "added_ttft")
        out.append((f"added stream TTFT p50, {label}", "n/a" if v is None else f"{v:.2f} ms", "<= 1 ms",
                    _check(v, 1.0)))
    for group, kib in memory_totals(report.memory).items():
        if group in ("no keys", "keys", "all"):
            mib = kib / 1024
            out.append((f"RSS, all gemgate processes ({group})", f"{mib:.1f} MiB", "<= 190 MiB", _check(mib, 190)))
    if peer is not None:
        def ratio(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None or b == 0 else a / b

        ok = peer.rps is not None and not peer.failed
        for label, row in (("virtual key + budget", kd), ("no keys", nk)):
            r = ratio(row.rps if row and not row.failed else None, peer.rps if ok else None)
            out.append((f"req/s at c=32: gemgate {label} / LiteLLM master key",
                        "n/a" if r is None else f"{r:.2f}x", ">= 5x" if row is kd else "",
                        _check(r, 5.0, higher_is_better=True) if row is kd else ""))
        for label, row in (("no keys", nk), ("virtual key + budget", kd)):
            g, p = ms(row, "added_p50_c1"), ms(peer, "added_p50_c1")
            out.append((f"added p50 at c=1: gemgate {label} vs LiteLLM",
                        "n/a" if g is None or p is None else f"{g:.2f} vs {p:.2f} ms", "", ""))
        g, p = ms(kd, "added_ttft"), ms(peer, "added_ttft")
        out.append(("added stream TTFT: gemgate virtual key vs LiteLLM",
                    "n/a" if g is None or p is None else f"{g:.2f} vs {p:.2f} ms", "", ""))
        keys_total = memory_totals(report.memory).get("keys")
        peer_total = sum(k or 0 for k in report.peer_memory.values()) or None
        out.append(("RSS total: gemgate (keys) vs LiteLLM",
                    "n/a" if not keys_total or not peer_total else
                    f"{keys_total / 1024:.1f} vs {peer_total / 1024:.1f} MiB", "", ""))
    if not out:
        return []
    lines = ["", "| issue #15 target | measured | target | met |", "|---|---:|---:|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in out]
    return lines
