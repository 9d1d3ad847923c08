"""Free ports for child processes that bind them themselves (worker ports, benchmarks, tests).

A port the kernel picks with bind(port 0) lies in its ephemeral range, the same range it
draws the local ports of outgoing connections from. Between handing such a port out and
the child process binding it, any outgoing connection on the machine (a client dialling
Redis, another test's HTTP request) may take it, and the child then fails to listen. So
ports are drawn at random from below the ephemeral range, where the kernel never
assigns on its own, checked bindable, and never handed out twice by one process.
"""

from __future__ import annotations

import random
import socket

_FALLBACK_RANGE = (10000, 32767)
_handed_out: set[int] = set()


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux; else its default)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _candidate_range() -> tuple[int, int]:
    low, high = ephemeral_range()
    if low > 11000:
        return 10000, low - 1
    if high < 64000:
        return high + 1, 65535
    return _FALLBACK_RANGE


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port_block(n: int = 1, host: str = "127.0.0.1") -> int:
    """A port P such that P..P+n-1 are free on `host` now and outside the ephemeral range."""
    low, high = _candidate_range()
    for _ in range(500):
        base = random.randint(low, high - n + 1)
        block = range(base, base + n)
        if any(p in _handed_out for p in block) or not all(_bindable(host, p) for p in block):
            continue
        _handed_out.update(block)
        return base
    raise RuntimeError(f"no free block of {n} ports in {low}-{high}")


def free_port(host: str = "127.0.0.1") -> int:
    """One free port on `host` outside the ephemeral range."""
    return free_port_block(1, host)
