"""The `gemgate` CLI's supervising process, kept small.

The CLI (gemgate/cli.py) checks the config, prepares the children and then replaces itself (exec)
with this module, which imports only the standard library and gemgate/supervisor.py: the process
that lives as long as the gateway holds ~20 MiB instead of the ~55 MiB of a process that has
loaded the config machinery. Same pid, same signals, same output.

The plan travels in the environment variable GEMGATE_SUPERVISOR_PLAN (JSON; it holds the children's
environments, so never on a command line): children in start order, each with how to tell it is
ready: "notify" (it reports on a pipe, gemgate.grpc_server.notify_ready), "http" (the facade
answers its liveness endpoint) or "listens_http" (this worker itself listens on the shared port,
and the port answers).
"""

from __future__ import annotations

import json
import logging
import os
import sys

from gemgate import logsetup
from gemgate.supervisor import Child, Supervisor, http_alive, listens

PLAN_ENV = "GEMGATE_SUPERVISOR_PLAN"


def child_plan(child: Child, ready: dict) -> dict:
    return {"name": child.name, "argv": child.argv, "env": child.env, "json_logs": child.json_logs,
            "log_name": child.log_name, "group": child.group, "ready": ready}


def _ready(child: Child, how: dict):
    kind = how.get("kind")
    if kind == "notify":
        child.notify = True
        return child.notified
    if kind == "http":
        return lambda: http_alive(how["host"], how["port"])
    if kind == "listens_http":
        return lambda: child.proc is not None and listens(child.proc.pid, how["port"]) and \
            http_alive(how["host"], how["port"])
    raise ValueError(f"unknown readiness kind {kind!r}")


def build(plan: dict) -> Supervisor:
    children = []
    for c in plan["children"]:
        child = Child(c["name"], c["argv"], env=c["env"], json_logs=c["json_logs"], log_name=c["log_name"],
                      group=c["group"])
        child.ready = _ready(child, c["ready"])
        children.append(child)
    return Supervisor(children, exit_on_crash=plan["exit_on_crash"], restart_delay=plan["restart_delay"])


def exec_into(children: list[tuple[Child, dict]], *, exit_on_crash: bool, restart_delay: float,
              ready_message: str, json_logs: bool) -> None:
    """Replace this process with the supervising one (does not return)."""
    plan = {"children": [child_plan(c, how) for c, how in children], "exit_on_crash": exit_on_crash,
            "restart_delay": restart_delay, "ready_message": ready_message, "json_logs": json_logs}
    env = {**os.environ, PLAN_ENV: json.dumps(plan)}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "gemgate.supervise"], env)


def main() -> None:
    plan = json.loads(os.environ.pop(PLAN_ENV))
    logsetup.setup("cli")
    if plan.get("json_logs"):
        logsetup.json_stderr("cli")
    sup = build(plan)
    sup.install_signals()
    code = 0
    try:
        sup.start_all()
        if not sup.stopping:
            logsetup.console(plan["ready_message"])
            code = sup.watch()
    except SystemExit as exc:
        logsetup.console(str(exc), level=logging.ERROR)
        code = 1
    finally:
        sup.stop_all()
    sys.exit(code)


if __name__ == "__main__":
    main()
