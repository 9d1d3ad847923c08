"""The `gemgate` CLI's supervising process, kept small.

The CLI (gemgate/cli.py) checks the config, prepares the children and then replaces itself (exec)
with this module, which imports only a few standard library modules and gemgate/supervisor.py, in
an interpreter started without `site` (python -S): the process that lives as long as the gateway
holds ~12 MiB instead of the ~55 MiB of a process that has loaded the config machinery (logging
and http.client stay out too). Same pid, same signals, same output.

The plan travels in the environment variable GEMGATE_SUPERVISOR_PLAN (JSON; it holds the children's
environments, so never on a command line): children in start order, each with how to tell it is
ready: "notify" (it reports on a pipe, gemgate.grpc_server.notify_ready), "http" (the facade
answers its liveness endpoint) or "listens_http" (this worker itself listens on the shared port,
and the port answers).
"""

from __future__ import annotations

import json
import os
import sys

from gemgate.supervisor import Child, Supervisor, http_alive, listens

PLAN_ENV = "GEMGATE_SUPERVISOR_PLAN"
# the supervising interpreter runs without `site` (python -S: no .pth hooks, ~2 MiB less); it finds
# gemgate through PYTHONPATH, set for it alone and given back as it was (this variable) at startup
PYTHONPATH_ENV = "GEMGATE_SUPERVISOR_PYTHONPATH"


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
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where `gemgate` is
    previous = os.environ.get("PYTHONPATH")
    env[PYTHONPATH_ENV] = "-" if previous is None else "=" + previous  # "-": was not set
    env["PYTHONPATH"] = package_root if not previous else package_root + os.pathsep + previous
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-S", "-m", "gemgate.supervise"], env)


def _restore_pythonpath() -> None:
    previous = os.environ.pop(PYTHONPATH_ENV, None)
    if previous is None:
        return
    if previous.startswith("="):
        os.environ["PYTHONPATH"] = previous[1:]
    else:
        os.environ.pop("PYTHONPATH", None)


def _setup_logging(json_logs: bool) -> None:
    """As gemgate.logsetup.setup("cli") (+ json_stderr with json_logs), without loading `logging` for
    plain logs: this process logs only through print (supervisor.log); the one thing the setup would
    change, how a Python warning is shown, is applied on the first warning."""
    if json_logs:
        from gemgate import logsetup

        logsetup.setup("cli")
        logsetup.json_stderr("cli")
        return
    import warnings

    def first_warning(*args, **kwargs) -> None:
        from gemgate import logsetup

        logsetup.setup("cli")  # logging.captureWarnings: warnings.showwarning is logging's from now on
        warnings.showwarning(*args, **kwargs)

    warnings.showwarning = first_warning


def _console(message: str) -> None:
    # = logsetup.console here: json_logs never sets this process's formatter (its stderr is relayed
    # and wrapped instead, json_stderr), so the line is printed as it is
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    _restore_pythonpath()
    plan = json.loads(os.environ.pop(PLAN_ENV))
    _setup_logging(bool(plan.get("json_logs")))
    sup = build(plan)
    sup.install_signals()
    code = 0
    try:
        sup.start_all()
        if not sup.stopping:
            _console(plan["ready_message"])
            code = sup.watch()
    except SystemExit as exc:
        _console(str(exc))
        code = 1
    finally:
        sup.stop_all()
    sys.exit(code)


if __name__ == "__main__":
    main()
