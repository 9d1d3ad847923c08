"""gemgate/supervisor.py with real (tiny) child processes: restart with doubling backoff, reset after
a stable run, exit_on_crash for an outer supervisor."""

from __future__ import annotations

import sys
import time

from gemgate.ports import free_port
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


def sleeper(name: str, group: str = "", ready=lambda: True) -> Child:
    return Child(name, [sys.executable, "-c", "import time; time.sleep(30)"], ready=ready, group=group)


def test_workers_of_a_group_start_together_and_stop_together(monkeypatch):
    budget = sleeper("budget")
    routers = [sleeper(f"router[{i}]", "router") for i in (1, 2)]
    started: list[list[str]] = []
    real_start = Supervisor.start

    def spy(self, *children):
        started.append([c.name for c in children])
        return real_start(self, *children)

    monkeypatch.setattr(Supervisor, "start", spy)
    sup = Supervisor([budget, *routers])
    assert [[c.name for c in g] for g in sup.groups()] == [["budget"], ["router[1]", "router[2]"]]
    sup.start_all()
    assert started == [["budget"], ["router[1]", "router[2]"]]
    t0 = time.monotonic()
    sup.stop_all()  # one SIGTERM round per group, not one wait per worker
    assert time.monotonic() - t0 < 5
    assert all(c.proc.poll() is not None for c in [budget, *routers])


def test_one_worker_crashing_is_restarted_alone(capsys):
    routers = [Child("router[1]", [sys.executable, "-c", "import sys; sys.exit(5)"], group="router"),
               sleeper("router[2]", "router")]
    sup = Supervisor(routers, restart_delay=0.05)
    for c in routers:
        c.spawn()
    healthy = routers[1].proc.pid
    assert run_until(sup, lambda: routers[0].restarts >= 1) is None
    assert routers[1].proc.pid == healthy and routers[1].restarts == 0
    assert "router[1] exited unexpectedly (exit code 5)" in capsys.readouterr().err
    sup.stop_all()


def test_exit_on_crash_with_workers_stops_all_of_them():
    routers = [Child("router[1]", [sys.executable, "-c", "import sys; sys.exit(5)"], group="router"),
               sleeper("router[2]", "router")]
    sup = Supervisor(routers, exit_on_crash=True)
    for c in routers:
        c.spawn()
    assert run_until(sup, lambda: False) == 1
    sup.stop_all()
    assert routers[1].proc.poll() is not None


def test_a_worker_that_dies_during_startup_is_named():
    sup = Supervisor([sleeper("router[1]", "router", ready=lambda: False),
                      Child("router[2]", [sys.executable, "-c", "import sys; sys.exit(4)"], ready=lambda: False,
                            group="router")])
    try:
        sup.start_all()
    except SystemExit as exc:
        assert "router[2] exited during startup (exit code 4)" in str(exc)
    else:
        raise AssertionError("start_all did not fail")
    finally:
        sup.stop_all()


def test_listens_tells_apart_processes_sharing_a_port():
    import subprocess

    port = free_port()
    code = ("import socket, sys, time\n"
            "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n"
            f"s.bind(('127.0.0.1', {port}))\n"
            "if sys.argv[1] == 'listen': s.listen()\n"
            "print('bound', flush=True); time.sleep(30)\n")
    listening = subprocess.Popen([sys.executable, "-c", code, "listen"], stdout=subprocess.PIPE)
    bound_only = subprocess.Popen([sys.executable, "-c", code, "bind"], stdout=subprocess.PIPE)
    try:
        assert listening.stdout.readline() == b"bound\n" and bound_only.stdout.readline() == b"bound\n"
        assert supervisor.listens(listening.pid, port)
        assert not supervisor.listens(bound_only.pid, port)  # bound, not yet listening: not ready
        assert not supervisor.listens(listening.pid, port + 1 if port < 65535 else port - 1)
    finally:
        for p in (listening, bound_only):
            p.kill()
            p.wait()
    assert not supervisor.listens(listening.pid, port)  # gone


def test_notify_readiness_reported_on_the_pipe_once_per_spawn():
    import sys
    import time

    from gemgate.supervisor import Child

    code = ("import os, time; fd = int(os.environ['GEMGATE_READY_FD']); time.sleep(0.2); "
            "os.write(fd, b'ready\\n'); os.close(fd); time.sleep(5)")
    child = Child("svc", [sys.executable, "-c", code], notify=True)
    child.spawn()
    try:
        assert not child.notified()  # not yet
        deadline = time.monotonic() + 10
        while not child.notified():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert child.notified()  # latched
    finally:
        child.proc.kill()
        child.proc.wait()
    # a child that dies without reporting is never ready; a respawn starts unreported
    child.argv = [sys.executable, "-c", "pass"]
    child.spawn()
    child.proc.wait()
    time.sleep(0.05)
    assert not child.notified() and not child.notified()
