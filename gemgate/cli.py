"""`gemgate --config config.yaml [--host 0.0.0.0] [--port 4000] [--num_workers N]`

Starts budget_service, router_service and rest_facade as separate processes on one machine (with
`--num_workers N`: N router_service workers, each on its own port, and N rest_facade workers sharing
the public port through SO_REUSEPORT, each spreading its calls round-robin over all router workers;
one budget_service keeps budgets exact across them; on Linux the hops between them use local sockets,
gemgate/local_sockets.py), waits
until each is ready, restarts one that crashes (gemgate/supervisor.py; `--exit-on-child-crash` stops
everything instead) and stops them all (facade first) on Ctrl-C / SIGTERM. The children share an
internal gRPC secret (gemgate/internal_auth.py), generated here unless one is configured.
"""

from __future__ import annotations

import logging
import os
import socket
import sys

from gemgate import cli_flags, internal_auth, logsetup, master_key_policy
from gemgate.config import ConfigError, load_config, print_warnings
from gemgate import config_views, local_sockets, supervise
from gemgate.ports import free_port
from gemgate.supervisor import Child, child_env


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def worker_ports(first: int, n: int, host: str, taken: set[int]) -> list[int]:
    """`first` for worker 1, free ports picked now for workers 2..n (kept across their restarts), from
    below the kernel's ephemeral range so that no outgoing connection can take one before a restart."""
    ports = [first]
    while len(ports) < n:
        port = free_port(host)
        if port not in taken and port not in ports:
            ports.append(port)
    return ports


def worker_name(service: str, i: int, n: int) -> str:
    return service if n == 1 else f"{service}[{i + 1}]"


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
    from gemgate.redis_client import parse_url

    try:  # the Redis URL (general_settings / router_settings / REDIS_URL), before any service dials it
        parse_url(config.redis_url())
    except ValueError as exc:  # the message never repeats the URL: it may hold a password
        sys.exit(f"gemgate: the Redis URL is not usable: {exc}")

    config.warnings.extend(unpriced_warnings(config))
    print_warnings(config)
    os.environ["GEMGATE_WARNED"] = "1"  # the services started below do not repeat them
    if args.skip_server_startup:
        print("gemgate: config OK (--skip_server_startup)", file=sys.stderr)
        return None, None
    return args, config


def budget_env(config, env: dict[str, str]) -> dict[str, str]:
    """budget_service's environment: `env` plus the settings it needs from the config (so it does not
    load the config machinery, budget_service/handover.py). A config value it would refuse (an invalid
    DATABASE_URL) is not handed over: budget_service then reads the file and reports it as before."""
    from budget_service import handover

    try:
        return {**env, handover.ENV: handover.export(config, env)}
    except ConfigError:
        return env


def _fail(message: str) -> None:
    logsetup.console(message, level=logging.ERROR)  # one JSON object when json_logs is on
    sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    args, config = prepare(argv)
    if args is None:
        sys.exit(0)
    logsetup.configure("cli", config.litellm_settings)
    json_logs = config.litellm_settings.json_logs
    permit = args.permit_weak_master_key or config.general_settings.dangerously_permit_weak_or_unset_master_key
    try:
        for warning in master_key_policy.check(config.general_settings.master_key, args.host, permit=permit):
            logsetup.console(f"gemgate: warning: {warning}", level=logging.WARNING)
    except master_key_policy.UnsafeStartup as exc:
        _fail(f"gemgate: refusing to start: {exc}")
    secret = internal_auth.resolve(config) or internal_auth.generate()
    try:
        internal_auth.require(environ={internal_auth.ENV: secret})
    except internal_auth.SecretError as exc:
        _fail(str(exc))

    ih = args.internal_host
    n = args.num_workers
    router_port = args.router_port or args.port + 1
    budget_port = args.budget_port or args.port + 2
    router_metrics = args.router_metrics_port or args.port + 3
    budget_metrics = args.budget_metrics_port or args.port + 4
    fixed = {args.port, router_port, budget_port, router_metrics, budget_metrics}
    router_ports = worker_ports(router_port, n, ih, fixed)
    router_metrics_ports = worker_ports(router_metrics, n, "127.0.0.1", fixed | set(router_ports))
    budget_addr = f"{ih}:{budget_port}"
    router_addrs = [f"{ih}:{p}" for p in router_ports]
    # gemgate's own hops (facade -> router -> budget) over local sockets; TCP stays for other clients
    local = local_sockets.addresses(n) if local_sockets.enabled(os.environ) else None
    budget_dial, router_dial = local if local else (budget_addr, router_addrs)
    metrics_urls = ",".join(f"http://127.0.0.1:{p}/metrics" for p in [*router_metrics_ports, budget_metrics])
    for port in (args.port, *router_ports, budget_port, *router_metrics_ports, budget_metrics):
        if _port_open("127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host, port) or _port_open(ih, port):
            _fail(f"gemgate: port {port} is already in use (choose others with --port/--router-port/--budget-port)")
    probe_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    # the secret travels in the environment, never in argv; the facade need not repeat our warnings
    env = child_env({internal_auth.ENV: secret, master_key_policy.CHECKED_ENV: "1"})
    # N router workers share what one would keep in memory (stored Responses): budget_service's Redis
    router_env = env if n == 1 or env.get("REDIS_URL") else {**env, "REDIS_URL": config.redis_url(env)}
    # a client's next request may reach another router: settlements wait less for a ride
    # (router_service/budget_client.py SETTLE_LINGER_ENV, SETTLE_LINGER_MS_WORKERS)
    if n > 1 and "GEMGATE_SETTLE_LINGER_MS" not in router_env:
        router_env = {**router_env, "GEMGATE_SETTLE_LINGER_MS": "3"}
    # the config as checked here, so the router loads no config machinery (gemgate/config_views.py);
    # a config too large for the environment is read from the file by the router itself
    handed = config_views.export(config)
    if handed is not None:
        router_env = {**router_env, config_views.ENV: handed}
    py = sys.executable
    budget = Child("budget_service", [py, "-m", "budget_service", "--config", args.config, "--host", ih, "--port", str(budget_port),
                                      "--metrics-port", str(budget_metrics),
                                      "--redis-prefix", args.redis_prefix,
                                      *(["--local-address", budget_dial] if local else [])],
                   env=budget_env(config, env), json_logs=json_logs, log_name="budget")
    routers = [Child(worker_name("router_service", i, n),
                     [py, "-m", "router_service", "--config", args.config, "--host", ih, "--port", str(port),
                      "--budget", budget_dial, "--metrics-port", str(metrics_port), "--redis-prefix", args.redis_prefix,
                      *(["--local-address", router_dial[i]] if local else [])],
                     env=router_env, json_logs=json_logs, log_name="router", group="router")
               for i, (port, metrics_port) in enumerate(zip(router_ports, router_metrics_ports))]
    from rest_facade import handover as facade_handover

    # the settings the facade needs, as checked here: it does not load the config machinery (~3 MiB)
    facade_env = {**env, facade_handover.ENV: facade_handover.export(config, args.config)}
    facades = [Child(worker_name("rest_facade", i, n),
                     [py, "-m", "rest_facade", "--config", args.config, "--host", args.host, "--port", str(args.port),
                      "--router", ",".join(router_dial), "--budget", budget_dial, "--metrics-urls", metrics_urls,
                      *(["--reuse-port"] if n > 1 else []), *([master_key_policy.FLAG] if permit else [])],
                     env=facade_env, json_logs=json_logs, log_name="facade", group="facade")
               for i in range(n)]
    # shared port: a facade worker is ready when it itself listens (once its app started) and the
    # port answers; alone, when the port answers
    facade_ready = {"kind": "listens_http" if n > 1 else "http", "host": probe_host, "port": args.port}
    message = (f"gemgate: ready on http://{args.host}:{args.port} (OpenAI base_url http://{probe_host}:{args.port}/v1); "
               f"{n} rest_facade worker{'s' * (n > 1)}{' sharing the port' if n > 1 else ''}, "
               f"{n} router_service worker{'s' * (n > 1)} ({', '.join(router_addrs)}), 1 budget_service")
    # from here on a small process supervises (gemgate/supervise.py): this one, which loaded the
    # config machinery, is replaced by it (same pid)
    supervise.exec_into([(budget, {"kind": "notify"}), *((r, {"kind": "notify"}) for r in routers),
                         *((f, facade_ready) for f in facades)],
                        exit_on_crash=args.exit_on_child_crash, restart_delay=args.restart_delay,
                        ready_message=message, json_logs=json_logs)


if __name__ == "__main__":
    main()
