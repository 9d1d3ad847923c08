"""`python -m rest_facade --router 127.0.0.1:4001[,127.0.0.1:4101...] [--budget 127.0.0.1:4002] --port 4000 [--reuse-port]`

`--reuse-port` (what `gemgate --num_workers N` passes): several facade processes listen on the same
port, each with its own SO_REUSEPORT socket, and the kernel spreads new connections over them. The
socket is bound here but listens only once the app has started, so no connection waits on a worker
that is still starting."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

import uvicorn

from gemgate import internal_auth, logsetup, master_key_policy
from rest_facade import handover
from rest_facade.app import FacadeSettings, create_app
from rest_facade.guard import DEFAULT_MAX_BODY_BYTES
from rest_facade.routes.metrics import METRICS_TOKEN_ENV


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="rest_facade")
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=4000)
    ap.add_argument("--router", required=True,
                    help="router_service address host:port, or a comma-separated list of its workers (round-robin)")
    ap.add_argument("--reuse-port", action="store_true",
                    help="share --port with other facade processes (SO_REUSEPORT; gemgate --num_workers)")
    ap.add_argument("--budget", default=None, help="budget_service address host:port")
    ap.add_argument("--metrics-urls", default="", help="comma-separated /metrics URLs of the other processes")
    ap.add_argument("--config", default=None, help="config.yaml (logging, the master-key startup check, /metrics access)")
    ap.add_argument(master_key_policy.FLAG, dest="permit_weak_master_key", action="store_true",
                    help="start even without a master_key / with a weak one on a non-loopback --host (dangerous)")
    args = ap.parse_args(argv)
    logsetup.setup("facade")
    config = handover.take()  # started by the `gemgate` CLI: the settings it checked (rest_facade/handover.py)
    if config is None and args.config:
        from gemgate.config import ConfigError, load_config

        try:
            config = load_config(args.config)
        except ConfigError as exc:
            sys.exit(f"rest_facade: {exc}")
    if config is not None:
        logsetup.configure("facade", config.litellm_settings)
    try:
        secret = internal_auth.require(config, who="rest_facade")
    except internal_auth.SecretError as exc:
        sys.exit(str(exc))
    gs = config.general_settings if config is not None else None
    permit = args.permit_weak_master_key or bool(gs and gs.dangerously_permit_weak_or_unset_master_key)
    try:  # without --config the master key is unknown: treated as unset
        warnings = master_key_policy.check(gs.master_key if gs else None, args.host, permit=permit)
    except master_key_policy.UnsafeStartup as exc:
        sys.exit(f"rest_facade: refusing to start: {exc}")
    if not os.environ.get(master_key_policy.CHECKED_ENV):
        for warning in warnings:
            print(f"rest_facade: warning: {warning}", file=sys.stderr, flush=True)
    app = create_app(FacadeSettings(
        router_address=args.router, budget_address=args.budget,
        metrics_urls=tuple(u for u in args.metrics_urls.split(",") if u), config=config,
        internal_secret=secret,
        master_key=gs.master_key if gs else None,
        metrics_token=os.environ.get(METRICS_TOKEN_ENV) or (gs.metrics_token if gs else None),
        max_body_bytes=int(gs.max_request_size_mb * 1024 * 1024) if gs else DEFAULT_MAX_BODY_BYTES,
        auth_required=bool(gs and gs.master_key and args.budget),
    ))
    logging.getLogger("gemgate.facade").info("rest_facade listening on %s:%s%s", args.host, args.port,
                                             f" (shared port, pid {os.getpid()})" if args.reuse_port else "")
    # log_config=None: uvicorn's records go through our root handler (json_logs formats them too)
    options = dict(log_level="warning", access_log=False, log_config=None, timeout_graceful_shutdown=10,
                   loop="auto", http="auto", ws="none")  # no WebSocket routes: an upgrade is answered as plain HTTP
    if not args.reuse_port:
        uvicorn.run(app, host=args.host, port=args.port, **options)
        return
    try:
        sock = shared_port_socket(args.host, args.port)
    except OSError as exc:
        sys.exit(f"rest_facade: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])


def shared_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEPORT, not yet listening (uvicorn listens on it
    after the app's startup)."""
    family, _, _, _, addr = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                               flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:  # as uvicorn's own socket for a single facade
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


main()
