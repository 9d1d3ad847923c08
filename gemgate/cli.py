"""`gemgate --config config.yaml [--host 0.0.0.0] [--port 4000]`

Starts budget_service, router_service and rest_facade as separate processes on one machine, waits
until each is ready, and stops them all (facade first) on Ctrl-C / SIGTERM or when one dies.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from gemgate import cli_flags
from gemgate.config import ConfigError, load_config, print_warnings

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def _die_with_parent() -> None:  # runs in the child before exec (Linux): never outlive the CLI
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Child:
    name: str
    argv: list[str]
    address: tuple[str, int]
    proc: subprocess.Popen | None = None


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _grpc_serving(address: str, service: str) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as ch:
        try:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=0.5)
        except grpc.RpcError:
            return False
    return resp.status == health_pb2.HealthCheckResponse.SERVING


class Supervisor:
    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.stopping = False

    def _on_signal(self, signum, _frame) -> None:
        self.stopping = True

    def start(self, child: Child, ready) -> None:
        child.proc = subprocess.Popen(child.argv, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.stopping:
                return
            code = child.proc.poll()
            if code is not None:
                raise SystemExit(f"gemgate: {child.name} exited during startup (code {code}); see its message above")
            if ready():
                return
            time.sleep(0.05)
        raise SystemExit(f"gemgate: {child.name} did not become ready within {STARTUP_TIMEOUT:.0f}s")

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
                try:
                    child.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait()

    def watch(self) -> int:
        while not self.stopping:
            for child in self.children:
                code = child.proc.poll() if child.proc else None
                if code is not None:
                    print(f"gemgate: {child.name} exited unexpectedly (code {code}); stopping", file=sys.stderr)
                    return 1
            time.sleep(0.2)
        return 0


def prepare(argv: list[str] | None):
    """Parse flags (gemgate.cli_flags), load the config once (exporting its environment_variables
    for the services), print its one-time warnings. None: --skip_server_startup, nothing to run."""
    prog = os.path.basename(sys.argv[0]) if os.path.basename(sys.argv[0]) == "litellm" else "gemgate"
    args, notes = cli_flags.parse(argv, prog)
    for note in notes:
        print(f"gemgate: {note}", file=sys.stderr)
    level = cli_flags.log_level(args)
    if level:
        os.environ["GEMGATE_LOG_LEVEL"] = level
    try:
        config = load_config(args.config)  # fail fast, once, with the field named
    except ConfigError as exc:
        sys.exit(f"gemgate: {exc}")
    from router_service.price_table import unpriced_warnings

    config.warnings.extend(unpriced_warnings(config))
    print_warnings(config)
    os.environ["GEMGATE_WARNED"] = "1"  # the services started below do not repeat them
    if args.skip_server_startup:
        print("gemgate: config OK (--skip_server_startup)", file=sys.stderr)
        return None
    return args


def main(argv: list[str] | None = None) -> None:
    args = prepare(argv)
    if args is None:
        sys.exit(0)

    ih = args.internal_host
    router_port = args.router_port or args.port + 1
    budget_port = args.budget_port or args.port + 2
    router_metrics = args.router_metrics_port or args.port + 3
    budget_metrics = args.budget_metrics_port or args.port + 4
    router_addr, budget_addr = f"{ih}:{router_port}", f"{ih}:{budget_port}"
    metrics_urls = f"http://127.0.0.1:{router_metrics}/metrics,http://127.0.0.1:{budget_metrics}/metrics"
    for port in (args.port, router_port, budget_port, router_metrics, budget_metrics):
        if _port_open("127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host, port) or _port_open(ih, port):
            sys.exit(f"gemgate: port {port} is already in use (choose others with --port/--router-port/--budget-port)")
    py = sys.executable
    budget = Child("budget_service", [py, "-m", "budget_service", "--config", args.config, "--host", ih, "--port", str(budget_port),
                                     "--metrics-port", str(budget_metrics),
                                     "--redis-prefix", args.redis_prefix], (ih, budget_port))
    router = Child("router_service", [py, "-m", "router_service", "--config", args.config, "--host", ih, "--port", str(router_port), "--budget", budget_addr,
                                     "--metrics-port", str(router_metrics)], (ih, router_port))
    facade = Child("rest_facade", [py, "-m", "rest_facade", "--config", args.config, "--host", args.host, "--port", str(args.port), "--router", router_addr, "--budget", budget_addr,
                                  "--metrics-urls", metrics_urls], (args.host, args.port))
    sup = Supervisor([budget, router, facade])
    signal.signal(signal.SIGTERM, sup._on_signal)
    signal.signal(signal.SIGINT, sup._on_signal)
    code = 0
    try:
        sup.start(budget, lambda: _grpc_serving(budget_addr, "gemgate.v1.BudgetService"))
        sup.start(router, lambda: _grpc_serving(router_addr, "gemgate.v1.RouterService"))
        probe_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        sup.start(facade, lambda: _port_open(probe_host, args.port))
        if not sup.stopping:
            print(f"gemgate: ready on http://{args.host}:{args.port} (OpenAI base_url http://{probe_host}:{args.port}/v1)", file=sys.stderr, flush=True)
            code = sup.watch()
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        code = 1
    finally:
        sup.stop_all()
    sys.exit(code)


if __name__ == "__main__":
    main()
