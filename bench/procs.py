"""Process facts from /proc: resident memory, child pids, CPU pinning (Linux; degrade elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    """Direct children of pid (via /proc/<pid>/task/*/children, else a /proc/*/stat scan)."""
    out: list[int] = []
    tasks = Path(f"/proc/{pid}/task")
    try:
        for t in tasks.iterdir():
            txt = (t / "children").read_text().split()
            out.extend(int(x) for x in txt)
        return sorted(set(out))
    except OSError:
        pass
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(d.name))
    return sorted(out)


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def cpu_split() -> tuple[set[int], set[int]] | None:
    """(bench cpus, gateway cpus) when at least two CPUs are usable and affinity works, else None."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[0]}, set(cpus[1:2])


def pin(cpus: set[int], pid: int = 0) -> bool:
    try:
        os.sched_setaffinity(pid, cpus)
        return True
    except (AttributeError, OSError):
        return False


def machine() -> str:
    """One line naming the machine the figures came from: CPU model, usable CPUs, memory, kernel."""
    import platform

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " ".join(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:", 1)[1].split()[0])
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, IndexError, ValueError):
        pass
    ncpu = os.cpu_count()
    return f"{model}, {ncpu} CPUs{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"
