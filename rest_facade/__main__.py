"""`python -m rest_facade --router 127.0.0.1:4001 [--budget 127.0.0.1:4002] --port 4000`"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from gemgate import logsetup
from gemgate.config import ConfigError, load_config
from rest_facade.app import FacadeSettings, create_app


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="rest_facade")
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=4000)
    ap.add_argument("--router", required=True, help="router_service address host:port")
    ap.add_argument("--budget", default=None, help="budget_service address host:port")
    ap.add_argument("--metrics-urls", default="", help="comma-separated /metrics URLs of the other processes")
    ap.add_argument("--config", default=None, help="config.yaml (the facade reads only its logging settings)")
    args = ap.parse_args(argv)
    logsetup.setup("facade")
    config = None
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            sys.exit(f"rest_facade: {exc}")
        logsetup.configure("facade", config.litellm_settings)
    app = create_app(FacadeSettings(
        router_address=args.router, budget_address=args.budget,
        metrics_urls=tuple(u for u in args.metrics_urls.split(",") if u), config=config,
    ))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=10, loop="auto", http="auto")


main()
