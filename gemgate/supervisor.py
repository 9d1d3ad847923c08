"""The single-machine supervisor behind `gemgate`: start the children in order, wait until each is
ready, restart one that dies (exponential backoff, logged), stop them all (facade first) on
Ctrl-C / SIGTERM.

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
    print(f"gemgate: {msg}", file=sys.stderr, flush=True)


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

    def spawn(self) -> None:
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
    def start(self, child: Child) -> None:
        """Start `child` and wait until it is ready (raises SystemExit if it dies or hangs)."""
        child.spawn()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.stopping:
                return
            code = child.proc.poll()
            if code is not None:
                raise SystemExit(f"gemgate: {child.name} exited during startup ({describe_exit(code)}); see its message above")
            if child.ready():
                return
            time.sleep(0.05)
        raise SystemExit(f"gemgate: {child.name} did not become ready within {STARTUP_TIMEOUT:.0f}s")

    def start_all(self) -> None:
        for child in self.children:
            self.start(child)
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
        for child in reversed(self.children):
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
                try:
                    child.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait()


def child_env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
