"""gemgate/supervisor.py with real (tiny) child processes: restart with doubling backoff, reset after
a stable run, exit_on_crash for an outer supervisor."""

from __future__ import annotations

import sys
import time

from gemgate import supervisor
from gemgate.supervisor import Child, Supervisor


def crasher(code: int = 3) -> Child:
    return Child("crasher", [sys.executable, "-c", f"import sys; sys.exit({code})"])


def run_until(sup: Supervisor, cond, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = sup.check(time.monotonic())
        if code is not None or cond():
            return code
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_restarts_with_doubling_backoff(capsys):
    child = crasher()
    sup = Supervisor([child], restart_delay=0.05, max_delay=0.2)
    child.spawn()
    assert run_until(sup, lambda: child.restarts >= 4) is None
    err = capsys.readouterr().err
    assert "crasher exited unexpectedly (exit code 3); restarting in 0.1s (crash 1 in a row)" in err
    assert "restarting in 0.1s (crash 2 in a row)" in err and "restarting in 0.2s (crash 3 in a row)" in err
    assert "restarting in 0.2s (crash 4 in a row)" in err  # capped at max_delay
    assert "crasher restarted" in err
    assert sup.backoff(1) == 0.05 and sup.backoff(2) == 0.1 and sup.backoff(10) == 0.2
    sup.stop_all()


def test_backoff_resets_after_a_stable_run(monkeypatch):
    monkeypatch.setattr(supervisor, "STABLE_AFTER", 0.2)
    child = Child("sleeper", [sys.executable, "-c", "import time; time.sleep(30)"])
    sup = Supervisor([child], restart_delay=0.05)
    child.spawn()
    child.crashes = 3
    time.sleep(0.3)
    sup.check(time.monotonic())
    assert child.crashes == 0
    sup.stop_all()
    assert child.proc.poll() is not None


def test_exit_on_crash(capsys):
    child = crasher(0)
    sup = Supervisor([child], exit_on_crash=True)
    child.spawn()
    assert run_until(sup, lambda: False) == 1
    assert "--exit-on-child-crash" in capsys.readouterr().err
    assert child.restarts == 0


def test_describe_exit():
    assert supervisor.describe_exit(-9) == "killed by SIGKILL"
    assert supervisor.describe_exit(2) == "exit code 2"
