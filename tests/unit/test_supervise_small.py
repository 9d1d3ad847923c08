"""The supervising process (gemgate/supervise.py) stays small: it runs without `site`, imports no
logging / http.client / dataclasses for plain logs, and still probes the facade's liveness, shows
Python warnings as the logging setup would, and hands the children an untouched PYTHONPATH."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading

import pytest

from gemgate import supervise, supervisor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run_small(code: str, **env: str) -> subprocess.CompletedProcess:
    """`code` in an interpreter started as exec_into starts the supervisor (python -S, PYTHONPATH)."""
    full_env = {**os.environ, "PYTHONPATH": ROOT, **env}
    return subprocess.run([sys.executable, "-S", "-c", code], env=full_env, capture_output=True, text=True,
                          timeout=30)


def test_supervisor_imports_no_logging_http_client_or_dataclasses():
    out = _run_small("import sys, gemgate.supervise\n"
                     "print(sorted(m for m in ('logging', 'http.client', 'dataclasses', 'inspect', 'site')"
                     " if m in sys.modules))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_first_warning_goes_through_the_logging_setup():
    out = _run_small("import warnings\n"
                     "from gemgate import supervise\n"
                     "supervise._setup_logging(False)\n"
                     "warnings.warn('careful', UserWarning)\n")
    assert out.returncode == 0, out.stderr
    assert " cli WARNING py.warnings: " in out.stderr and "UserWarning: careful" in out.stderr


@pytest.mark.parametrize("previous", [None, "/somewhere/else"])
def test_pythonpath_given_back(monkeypatch, previous):
    monkeypatch.setenv("PYTHONPATH", "/gemgate/root" + (os.pathsep + previous if previous else ""))
    monkeypatch.setenv(supervise.PYTHONPATH_ENV, "-" if previous is None else "=" + previous)
    supervise._restore_pythonpath()
    assert os.environ.get("PYTHONPATH") == previous
    assert supervise.PYTHONPATH_ENV not in os.environ


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802
        code = self.status if self.path == "/health/liveliness" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status,alive", [(200, True), (503, False)])
def test_http_alive_reads_the_liveness_status(status, alive):
    handler = type("H", (_Handler,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert supervisor.http_alive("127.0.0.1", server.server_address[1]) is alive
    finally:
        server.shutdown()
        server.server_close()


def test_http_alive_false_when_nothing_listens():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert supervisor.http_alive("127.0.0.1", port) is False


def test_child_keeps_its_dataclass_shape():
    child = supervisor.Child("svc", ["true"], group="g")
    assert child == supervisor.Child("svc", ["true"], group="g", ready=child.ready)
    assert child != supervisor.Child("svc", ["true"], group="h", ready=child.ready)
    assert repr(child).startswith("Child(name='svc', argv=['true'], ready=") and "_ready_fd" not in repr(child)
