"""The single-machine supervisor behind `gemgate`: start the children in order, wait until each is
ready, restart one that dies (exponential backoff, logged), stop them all (facade first) on
Ctrl-C / SIGTERM.

Children of one `group` (the N workers of `gemgate --num_workers N`) are started together, waited
for together and stopped together; each is still watched and restarted on its own.

A crashed child is restarted alone: the others keep running and finish their in-flight work (the
facade answers 503 while the router or budget service is away; gRPC channels reconnect by
themselves). `exit_on_crash=True` restores the old behaviour (stop everything, exit 1) for an outer
supervisor such as systemd or Kubernetes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gemgate import logsetup

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
RESTART_DELAY = 0.5  # first backoff (seconds); doubled per crash in a row
RESTART_MAX_DELAY = 10.0
STABLE_AFTER = 30.0  # a child up this long has its backoff reset


def _die_with_parent() -> None:  # runs in the child before exec (Linux): never outlive the CLI
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def log(msg: str) -> None:
    logsetup.console(f"gemgate: {msg}")


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class Child:
    name: str
    argv: list[str]
    ready: Callable[[], bool] = lambda: True
    env: dict[str, str] | None = None
    proc: subprocess.Popen | None = None
    # restart bookkeeping
    crashes: int = 0  # crashes in a row (reset once the child has been up STABLE_AFTER)
    restarts: int = 0
    started_at: float = 0.0
    restart_at: float | None = None  # monotonic time of the scheduled restart
    announced_ready: bool = field(default=True)
    json_logs: bool = False  # relay the child's output, each line as one JSON object
    log_name: str | None = None  # the `service` of relayed lines (the child's own logsetup name)
    group: str = ""  # workers of one service share a group ("" : the child's own name)

    def spawn(self) -> None:
        if self.json_logs:
            self.proc = subprocess.Popen(self.argv, preexec_fn=_die_with_parent, env=self.env,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            logsetup.relay_output(self.proc.stdout, self.log_name or self.name)
        else:
            self.proc = subprocess.Popen(self.argv, preexec_fn=_die_with_parent, env=self.env)
        self.started_at = time.monotonic()


class Supervisor:
    def __init__(self, children: list[Child], *, exit_on_crash: bool = False,
                 restart_delay: float = RESTART_DELAY, max_delay: float = RESTART_MAX_DELAY,
                 poll: float = 0.1) -> None:
        self.children = children
        self.exit_on_crash = exit_on_crash
        self.restart_delay = restart_delay
        self.max_delay = max(max_delay, restart_delay)
        self.poll = poll
        self.stopping = False

    def on_signal(self, _signum, _frame) -> None:
        self.stopping = True

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    # ---- startup ---------------------------------------------------------------------------------
    def start(self, *children: Child) -> None:
        """Start `children` together and wait until each is ready (raises SystemExit if one dies or hangs)."""
        for child in children:
            child.spawn()
        waiting = list(children)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.stopping:
                return
            for child in list(waiting):
                code = child.proc.poll()
                if code is not None:
                    raise SystemExit(f"gemgate: {child.name} exited during startup ({describe_exit(code)}); see its message above")
                if child.ready():
                    waiting.remove(child)
            if not waiting:
                return
            time.sleep(0.05)
        raise SystemExit(f"gemgate: {waiting[0].name} did not become ready within {STARTUP_TIMEOUT:.0f}s")

    def groups(self) -> list[list[Child]]:
        """The children in start order, consecutive members of one group together."""
        out: list[list[Child]] = []
        for child in self.children:
            if out and child.group and out[-1][0].group == child.group:
                out[-1].append(child)
            else:
                out.append([child])
        return out

    def start_all(self) -> None:
        for group in self.groups():
            self.start(*group)
            if self.stopping:
                return

    # ---- running ---------------------------------------------------------------------------------
    def backoff(self, crashes: int) -> float:
        return min(self.max_delay, self.restart_delay * (2 ** max(0, crashes - 1)))

    def check(self, now: float) -> int | None:
        """One supervision step: notice dead children, restart due ones. Returns an exit code when
        the CLI must stop (exit_on_crash), else None."""
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restart_at = None
                    child.restarts += 1
                    try:
                        child.spawn()
                    except OSError as exc:
                        log(f"{child.name}: restart failed ({exc.strerror}); trying again")
                        child.crashes += 1
                        child.restart_at = now + self.backoff(child.crashes)
                        continue
                    child.announced_ready = False
                    log(f"{child.name} restarted (pid {child.proc.pid}, restart #{child.restarts})")
                continue
            if child.proc is None:
                continue
            code = child.proc.poll()
            if code is None:
                if not child.announced_ready and child.ready():
                    child.announced_ready = True
                    log(f"{child.name} is ready again")
                if child.crashes and now - child.started_at >= STABLE_AFTER:
                    child.crashes = 0
                continue
            if self.exit_on_crash:
                log(f"{child.name} exited unexpectedly ({describe_exit(code)}); stopping (--exit-on-child-crash)")
                return 1
            child.crashes += 1
            delay = self.backoff(child.crashes)
            child.restart_at = now + delay
            log(f"{child.name} exited unexpectedly ({describe_exit(code)}); restarting in {delay:.1f}s "
                f"(crash {child.crashes} in a row)")
        return None

    def watch(self) -> int:
        while not self.stopping:
            code = self.check(time.monotonic())
            if code is not None:
                return code
            time.sleep(self.poll)
        return 0

    def stop_all(self) -> None:
        """SIGTERM each group (last started first), all its workers at once, and wait for them."""
        for group in reversed(self.groups()):
            running = [c for c in group if c.proc is not None and c.proc.poll() is None]
            for child in running:
                child.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            for child in running:
                try:
                    child.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait()


def listens(pid: int, port: int) -> bool:
    """True when process `pid` has a TCP socket listening on `port` (Linux /proc; elsewhere: True).
    Tells apart facade workers that share one port (SO_REUSEPORT), which no probe over the port can."""
    if not os.path.isdir("/proc/self/fd"):  # no /proc: cannot tell; the caller's other checks decide
        return True
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:  # the process is gone
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    cols = line.split()
                    # local_address is HEXIP:HEXPORT; st 0A is LISTEN; column 9 is the inode
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port and cols[9] in inodes:
                        return True
        except OSError:
            continue
    return False


def child_env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
