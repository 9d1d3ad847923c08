"""wrk as the load generator: a generated Lua script POSTs the benchmark body (with Authorization when
keyed); `wrk --latency` output is parsed for requests/s, p50/p99 and the error counts.

wrk counts every answer with status > 399 as "Non-2xx or 3xx responses" and socket-level failures as
"Socket errors"; both are returned as `errors` (the run fails loudly on them, see bench.measure).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

WRK_CANDIDATES = ("wrk", "/usr/bin/wrk", "/usr/local/bin/wrk")

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def find_wrk() -> str | None:
    for c in WRK_CANDIDATES:
        path = shutil.which(c) or (c if Path(c).is_file() else None)
        if path:
            return path
    return None


def _lua_string(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal for this ASCII content


def lua_script(body: dict, headers: dict[str, str]) -> str:
    """The wrk script: every request is POST <url> with this exact JSON body and these headers."""
    text = json.dumps(body, separators=(",", ":"))
    if not text.isascii():
        raise ValueError("benchmark body must be ASCII")
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(text)}",
             'wrk.headers["Content-Type"] = "application/json"']
    for k, v in headers.items():
        lines.append(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}")
    return "\n".join(lines) + "\n"


@dataclass
class WrkResult:
    requests: int = 0
    duration: float = 0.0  # seconds
    rps: float = 0.0
    p50: float | None = None  # seconds
    p99: float | None = None
    non2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)  # connect/read/write/timeout
    raw: str = ""

    @property
    def errors(self) -> int:
        return self.non2xx + sum(self.socket_errors.values())

    def error_text(self) -> str:
        parts = []
        if self.non2xx:
            parts.append(f"{self.non2xx} non-2xx")
        parts += [f"{n} socket {k}" for k, n in self.socket_errors.items() if n]
        return ", ".join(parts)


def _duration(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"unparseable wrk duration {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_output(out: str) -> WrkResult:
    """wrk 4.x `--latency` output -> WrkResult (raises ValueError when the summary lines are missing)."""
    r = WrkResult(raw=out)
    m = re.search(r"^\s*(\d+) requests in ([\d.]+\w+), ", out, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not m or not rps:
        raise ValueError(f"wrk output without a summary:\n{out[-1500:]}")
    r.requests, r.duration, r.rps = int(m.group(1)), _duration(m.group(2)), float(rps.group(1))
    for q, attr in (("50", "p50"), ("99", "p99")):
        pm = re.search(rf"^\s+{q}(?:\.0+)?%\s+([\d.]+\w+)\s*$", out, re.M)
        if pm:
            setattr(r, attr, _duration(pm.group(1)))
    n = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    r.non2xx = int(n.group(1)) if n else 0
    s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if s:
        r.socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, s.groups())))
    if r.requests and r.p50 is None:
        raise ValueError(f"wrk output without a latency distribution (--latency):\n{out[-1500:]}")
    return r


async def run_wrk(wrk: str, url: str, body: dict, headers: dict[str, str], *, connections: int,
                  duration: float, threads: int = 1, timeout: float = 10.0) -> WrkResult:
    """One wrk run (threads <= connections), pinned like the calling process (children inherit)."""
    with tempfile.TemporaryDirectory(prefix="gemgate-bench-wrk-") as d:
        script = Path(d) / "post.lua"
        script.write_text(lua_script(body, headers))
        proc = await asyncio.create_subprocess_exec(
            wrk, f"-t{min(threads, connections)}", f"-c{connections}", f"-d{max(1, round(duration))}s",
            f"--timeout={max(1, round(timeout))}s", "--latency", "-s", str(script), url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}:\n{text[-1500:]}")
    return parse_output(text)
