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

# Imported by the long-lived supervising process (gemgate/supervise.py), which stays small: only the
# standard library modules above. No dataclasses (it pulls in inspect), no logging: gemgate.logsetup
# is loaded only for json_logs (see log() and Child.spawn).

READY_FD_ENV = "GEMGATE_READY_FD"  # the pipe a child reports "ready" on (gemgate.grpc_server.notify_ready)
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
    # logsetup.console prints the line as it is unless json_logs is on in THIS process, which needs
    # logsetup loaded: print directly while it is not (the supervising process never loads it for
    # plain logs; with json_logs it relays its own stderr, gemgate.logsetup.json_stderr)
    logsetup = sys.modules.get("gemgate.logsetup")
    if logsetup is not None:
        logsetup.console(f"gemgate: {msg}")
    else:
        print(f"gemgate: {msg}", file=sys.stderr, flush=True)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


_CHILD_FIELDS = ("name", "argv", "ready", "env", "proc", "crashes", "restarts", "started_at", "restart_at",
                 "announced_ready", "json_logs", "log_name", "group", "notify", "_ready_fd", "_notified")


class Child:
    """One supervised process (a plain class, not a dataclass: see the imports)."""

    def __init__(self, name: str, argv: list[str], ready: Callable[[], bool] = lambda: True,
                 env: dict[str, str] | None = None, proc: subprocess.Popen | None = None,
                 crashes: int = 0, restarts: int = 0, started_at: float = 0.0, restart_at: float | None = None,
                 announced_ready: bool = True, json_logs: bool = False, log_name: str | None = None,
                 group: str = "", notify: bool = False, _ready_fd: int | None = None,
                 _notified: bool = False) -> None:
        self.name = name
        self.argv = argv
        self.ready = ready
        self.env = env
        self.proc = proc
        # restart bookkeeping
        self.crashes = crashes  # crashes in a row (reset once the child has been up STABLE_AFTER)
        self.restarts = restarts
        self.started_at = started_at
        self.restart_at = restart_at  # monotonic time of the scheduled restart
        self.announced_ready = announced_ready
        self.json_logs = json_logs  # relay the child's output, each line as one JSON object
        self.log_name = log_name  # the `service` of relayed lines (the child's own logsetup name)
        self.group = group  # workers of one service share a group ("" : the child's own name)
        self.notify = notify  # the child reports on a pipe when it serves (READY_FD_ENV); see notified()
        self._ready_fd = _ready_fd
        self._notified = _notified

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in _CHILD_FIELDS if not f.startswith("_"))
        return f"Child({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _CHILD_FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value (as the dataclass it was)

    def spawn(self) -> None:
        env, fds, write_fd = self.env, (), None
        if self.notify:
            self._close_ready()
            self._notified = False
            self._ready_fd, write_fd = os.pipe()
            os.set_blocking(self._ready_fd, False)
            env = {**(self.env if self.env is not None else os.environ), READY_FD_ENV: str(write_fd)}
            fds = (write_fd,)
        try:
            if self.json_logs:
                from gemgate import logsetup  # json_logs only: plain output needs no logging machinery

                self.proc = subprocess.Popen(self.argv, preexec_fn=_die_with_parent, env=env, pass_fds=fds,
                                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                logsetup.relay_output(self.proc.stdout, self.log_name or self.name)
            else:
                self.proc = subprocess.Popen(self.argv, preexec_fn=_die_with_parent, env=env, pass_fds=fds)
        finally:
            if write_fd is not None:
                os.close(write_fd)
        self.started_at = time.monotonic()

    def notified(self) -> bool:
        """Has the running child reported that it serves (once per spawn)?"""
        if not self._notified and self._ready_fd is not None:
            try:
                data = os.read(self._ready_fd, 64)
            except BlockingIOError:
                return False
            except OSError:
                data = b""
            if data.startswith(b"ready"):
                self._notified = True
            if data.startswith(b"ready") or not data:  # reported, or the child closed it (died)
                self._close_ready()
        return self._notified

    def _close_ready(self) -> None:
        if self._ready_fd is not None:
            os.close(self._ready_fd)
        self._ready_fd = None


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


def tcp_sockets(pid: int, port: int, state: str) -> int:
    """How many TCP sockets process `pid` holds on local `port` in `state` (the /proc/net/tcp state
    code: "0A" listening, "01" established). Linux only; OSError when the process is gone."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    cols = line.split()
                    # local_address is HEXIP:HEXPORT; column 9 is the inode
                    if cols[3] == state and int(cols[1].rsplit(":", 1)[1], 16) == port and cols[9] in inodes:
                        n += 1
        except OSError:
            continue
    return n


def listens(pid: int, port: int) -> bool:
    """True when process `pid` has a TCP socket listening on `port` (Linux /proc; elsewhere: True).
    Tells apart facade workers that share one port (SO_REUSEPORT), which no probe over the port can."""
    if not os.path.isdir("/proc/self/fd"):  # no /proc: cannot tell; the caller's other checks decide
        return True
    try:
        return tcp_sockets(pid, port, "0A") > 0
    except OSError:  # the process is gone
        return False


def http_alive(host: str, port: int) -> bool:
    """The facade answers its liveness endpoint with 200 (not merely: something listens on the port).
    One HTTP/1.1 request on a plain socket: http.client would add ~6 MiB to the supervising process."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            conn.settimeout(0.5)
            conn.sendall(f"GET /health/liveliness HTTP/1.1\r\nHost: {_host_header(host, port)}\r\n"
                         "Connection: close\r\n\r\n".encode("ascii"))
            head = b""
            while b"\r\n" not in head and len(head) < 1024:
                chunk = conn.recv(1024)
                if not chunk:
                    break
                head += chunk
    except (OSError, UnicodeError):
        return False
    status = head.split(b"\r\n", 1)[0].split(None, 2)  # b"HTTP/1.1 200 OK"
    return len(status) >= 2 and status[0].startswith(b"HTTP/") and status[1] == b"200"


def _host_header(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def child_env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
