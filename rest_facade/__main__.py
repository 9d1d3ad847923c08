"""`python -m rest_facade --router 127.0.0.1:4001 [--budget 127.0.0.1:4002] --port 4000`"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from gemgate import internal_auth, logsetup, master_key_policy
from gemgate.config import ConfigError, load_config
from rest_facade.app import FacadeSettings, create_app
from rest_facade.routes.metrics import METRICS_TOKEN_ENV


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="rest_facade")
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=4000)
    ap.add_argument("--router", required=True, help="router_service address host:port")
    ap.add_argument("--budget", default=None, help="budget_service address host:port")
    ap.add_argument("--metrics-urls", default="", help="comma-separated /metrics URLs of the other processes")
    ap.add_argument("--config", default=None, help="config.yaml (logging, the master-key startup check, /metrics access)")
    ap.add_argument(master_key_policy.FLAG, dest="permit_weak_master_key", action="store_true",
                    help="start even without a master_key / with a weak one on a non-loopback --host (dangerous)")
    args = ap.parse_args(argv)
    logsetup.setup("facade")
    config = None
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            sys.exit(f"rest_facade: {exc}")
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
    ))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=10, loop="auto", http="auto")


main()
