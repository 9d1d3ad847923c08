"""Mock Gemini upstream served by nginx: fixed answers, zero latency, no Python on the upstream side.

POST .../<anything>:generateContent              -> one fixed GenerateContentResponse (with usageMetadata,
                                                    so a gateway charges it)
POST .../<anything>:streamGenerateContent?alt=sse -> a fixed SSE body of `chunks` events, the last one
                                                    with finishReason and usageMetadata
anything else                                    -> 404 in Gemini's error shape

The answers are the Python mock's (bench.mock_upstream), byte for byte. The config is generated into
a temporary directory; nginx runs in the foreground (master_process off, one process) on a free
loopback port, pinned to the given CPUs. `start_upstream` picks nginx when it is installed and falls
back to the Python mock otherwise.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from gemgate.ports import free_port
from bench.mock_upstream import MockSettings, sse_event, unary_body

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
MOCK_MODEL = "mock-model"  # the upstream model name both mocks echo in modelVersion


def find_nginx() -> str | None:
    for c in NGINX_CANDIDATES:
        path = shutil.which(c) or (c if Path(c).is_file() else None)
        if path:
            return path
    return None


def _quote(body: bytes) -> str:
    """An nginx single-quoted string holding body exactly ('$' would be a variable: refused)."""
    text = body.decode()
    if "$" in text:
        raise ValueError("nginx return text must not contain '$'")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\r", "\\r").replace("\n", "\\n") + "'"


def nginx_config(workdir: Path, port: int, settings: MockSettings | None = None) -> str:
    s = settings or MockSettings()
    if s.latency or s.chunk_interval:
        raise ValueError("the nginx mock answers at once; use the Python mock for latency")
    unary = unary_body(MOCK_MODEL, s)
    sse = b"".join(sse_event(MOCK_MODEL, s, i) for i in range(s.chunks))
    w = str(workdir)
    return f"""daemon off;
master_process off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 4096; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {w}/body;
    proxy_temp_path {w}/proxy;
    fastcgi_temp_path {w}/fastcgi;
    uwsgi_temp_path {w}/uwsgi;
    scgi_temp_path {w}/scgi;
    keepalive_timeout 120s;
    keepalive_requests 10000000;
    client_max_body_size 16m;
    client_body_buffer_size 1m;
    server_tokens off;
    tcp_nodelay on;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location ~ :streamGenerateContent$ {{
            default_type text/event-stream;
            return 200 {_quote(sse)};
        }}
        location ~ :generateContent$ {{
            default_type application/json;
            return 200 {_quote(unary)};
        }}
        location / {{
            default_type application/json;
            return 404 '{{"error":{{"code":404,"message":"not found","status":"NOT_FOUND"}}}}';
        }}
    }}
}}
"""


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            detail = log.read_text()[-1500:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}: {detail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} not listening on {port} after {timeout}s")


@dataclass
class Upstream:
    """A running mock: its base URL (append /v1beta/models/M:op), its kind and its process."""
    kind: str  # "nginx" | "python"
    url: str
    proc: subprocess.Popen
    workdir: Path | None = None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def rss_kib(self) -> int | None:
        return procs.rss_kib(self.proc.pid)


def start_nginx(nginx: str, settings: MockSettings | None = None, cpus: set[int] | None = None) -> Upstream:
    workdir = Path(tempfile.mkdtemp(prefix="gemgate-bench-nginx-"))
    for _ in range(5):
        port = free_port()
        conf = workdir / "nginx.conf"
        conf.write_text(nginx_config(workdir, port, settings))
        proc = subprocess.Popen([nginx, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=(workdir / "stderr.log").open("wb"),
                                preexec_fn=(lambda: procs.pin(cpus)) if cpus else None)
        try:
            _wait_listening(port, proc, 10.0, "nginx mock", workdir / "stderr.log")
        except RuntimeError as exc:
            if "in use" in str(exc):  # lost a race for the port: another one
                continue
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return Upstream("nginx", f"http://127.0.0.1:{port}", proc, workdir)
    raise RuntimeError("nginx mock: no free port")


def start_python_mock(settings: MockSettings | None = None, cpus: set[int] | None = None) -> Upstream:
    s = settings or MockSettings()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.mock_upstream", "--port", "0", "--latency", str(s.latency),
         "--chunks", str(s.chunks), "--chunk-interval", str(s.chunk_interval)],
        stdout=subprocess.PIPE, text=True, preexec_fn=(lambda: procs.pin(cpus)) if cpus else None,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    line = proc.stdout.readline()  # "mock gemini listening on 127.0.0.1:PORT"
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"mock upstream did not start: {line!r}")
    return Upstream("python", "http://" + line.rsplit(" ", 1)[1].strip(), proc)


def start_upstream(settings: MockSettings | None = None, cpus: set[int] | None = None,
                   prefer: str = "auto") -> Upstream:
    """prefer: "auto" (nginx if installed and the mock has no latency), "nginx" or "python"."""
    s = settings or MockSettings()
    nginx = find_nginx()
    if prefer == "nginx" and not nginx:
        raise RuntimeError("--mock nginx: nginx is not installed")
    if prefer != "python" and nginx and not (s.latency or s.chunk_interval):
        return start_nginx(nginx, s, cpus)
    return start_python_mock(s, cpus)
