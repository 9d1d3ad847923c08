"""`gemgate --config config.yaml [--host 0.0.0.0] [--port 4000]`

Starts budget_service, router_service and rest_facade as separate processes on one machine, waits
until each is ready, restarts one that crashes (gemgate/supervisor.py; `--exit-on-child-crash` stops
everything instead) and stops them all (facade first) on Ctrl-C / SIGTERM. The children share an
internal gRPC secret (gemgate/internal_auth.py), generated here unless one is configured.
"""

from __future__ import annotations

import os
import socket
import sys

from gemgate import cli_flags, internal_auth, master_key_policy
from gemgate.config import ConfigError, load_config, print_warnings
from gemgate.supervisor import Child, Supervisor, child_env


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _http_alive(host: str, port: int) -> bool:
    """The facade answers its liveness endpoint (not merely: something listens on the port)."""
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=0.5)
    try:
        conn.request("GET", "/health/liveliness")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _grpc_serving(address: str, service: str) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as ch:
        try:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=0.5)
        except grpc.RpcError:
            return False
    return resp.status == health_pb2.HealthCheckResponse.SERVING


def prepare(argv: list[str] | None):
    """Parse flags (gemgate.cli_flags: gemgate's and LiteLLM's), load the config once (exporting its
    environment_variables for the services), print its one-time warnings.
    -> (args, config), or (None, None) for --skip_server_startup."""
    prog = "litellm" if os.path.basename(sys.argv[0]) == "litellm" else "gemgate"
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
    from router_service.usage.factory import build_dispatcher

    try:  # callbacks: known names and their environment, checked before anything starts
        build_dispatcher(config, os.environ)
    except ConfigError as exc:
        sys.exit(f"gemgate: {exc}")

    config.warnings.extend(unpriced_warnings(config))
    print_warnings(config)
    os.environ["GEMGATE_WARNED"] = "1"  # the services started below do not repeat them
    if args.skip_server_startup:
        print("gemgate: config OK (--skip_server_startup)", file=sys.stderr)
        return None, None
    return args, config


def main(argv: list[str] | None = None) -> None:
    args, config = prepare(argv)
    if args is None:
        sys.exit(0)
    permit = args.permit_weak_master_key or config.general_settings.dangerously_permit_weak_or_unset_master_key
    try:
        for warning in master_key_policy.check(config.general_settings.master_key, args.host, permit=permit):
            print(f"gemgate: warning: {warning}", file=sys.stderr, flush=True)
    except master_key_policy.UnsafeStartup as exc:
        sys.exit(f"gemgate: refusing to start: {exc}")
    secret = internal_auth.resolve(config) or internal_auth.generate()
    try:
        internal_auth.require(environ={internal_auth.ENV: secret})
    except internal_auth.SecretError as exc:
        sys.exit(str(exc))

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
    probe_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    # the secret travels in the environment, never in argv; the facade need not repeat our warnings
    env = child_env({internal_auth.ENV: secret, master_key_policy.CHECKED_ENV: "1"})
    py = sys.executable
    budget = Child("budget_service", [py, "-m", "budget_service", "--config", args.config, "--host", ih, "--port", str(budget_port),
                                      "--metrics-port", str(budget_metrics),
                                      "--redis-prefix", args.redis_prefix],
                   ready=lambda: _grpc_serving(budget_addr, "gemgate.v1.BudgetService"), env=env)
    router = Child("router_service", [py, "-m", "router_service", "--config", args.config, "--host", ih, "--port", str(router_port), "--budget", budget_addr,
                                      "--metrics-port", str(router_metrics), "--redis-prefix", args.redis_prefix],
                   ready=lambda: _grpc_serving(router_addr, "gemgate.v1.RouterService"), env=env)
    facade = Child("rest_facade", [py, "-m", "rest_facade", "--config", args.config, "--host", args.host, "--port", str(args.port), "--router", router_addr, "--budget", budget_addr,
                                   "--metrics-urls", metrics_urls, *([master_key_policy.FLAG] if permit else [])],
                   ready=lambda: _http_alive(probe_host, args.port), env=env)
    sup = Supervisor([budget, router, facade], exit_on_crash=args.exit_on_child_crash, restart_delay=args.restart_delay)
    sup.install_signals()
    code = 0
    try:
        sup.start_all()
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
