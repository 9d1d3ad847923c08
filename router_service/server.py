"""`python -m router_service --config config.yaml --port 4001 [--budget 127.0.0.1:4002]`"""

from __future__ import annotations

from typing import TYPE_CHECKING

import argparse
import os
import sys

from gemgate import internal_auth, logsetup, loop, metrics
from gemgate.config_names import ConfigError
from gemgate import config_views
from gemgate.config_views import print_warnings
from gemgate.grpc_server import serve
from gemgate.v1 import router_pb2, router_pb2_grpc
from router_service.budget_client import BudgetGate, OpenGate
from router_service.providers.google_auth import GoogleTokens
from router_service.providers.registry import build_providers, media_fetcher
from router_service.providers.upstream_http import UpstreamClient
from router_service.response_cache import build_cache
from router_service.responses.redis_store import build_store
from router_service.router import Router
from router_service.servicer import RouterServicer
from router_service.usage.factory import build_dispatcher

if TYPE_CHECKING:
    from gemgate.config import GatewayConfig


async def run(config: GatewayConfig, address: str, budget_address: str | None, secret: str | None = None,
              redis_prefix: str = "gemgate:", local_address: str | None = None) -> None:
    usage = build_dispatcher(config, os.environ)
    usage.start()
    upstream = UpstreamClient()
    fetcher = media_fetcher(config.general_settings, config.litellm_settings.user_url_allowed_hosts)
    providers = build_providers(upstream, GoogleTokens(), fetcher)
    router = Router(config, providers)
    metrics.set_model_groups(config.groups())  # metric labels: configured groups only
    if config.general_settings.master_key:
        if not budget_address:
            raise SystemExit("router_service: general_settings.master_key is set but no --budget address was given")
        gate = BudgetGate(budget_address, deadline=config.general_settings.budget_deadline, config=config,
                          channel=internal_auth.channel(budget_address, secret))
    else:
        gate = OpenGate()
    store = build_store(config, redis_prefix, dict(os.environ))
    cache = build_cache(config, redis_prefix, dict(os.environ))  # None unless litellm_settings.cache
    servicer = RouterServicer(router, gate, usage, store, cache)

    async def on_stop() -> None:
        await servicer.settlements.drain()
        await usage.aclose(deadline=5.0)
        await gate.close()
        await store.close()
        if cache is not None:
            await cache.close()
        await fetcher.aclose()
        await upstream.aclose()

    await serve(
        name="router_service",
        address=address,
        local_address=local_address,
        register=lambda s: router_pb2_grpc.add_RouterServiceServicer_to_server(servicer, s),
        service_names=[router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name],
        on_stop=on_stop,
        internal_secret=secret,
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="router_service")
    ap.add_argument("--config", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4001)
    ap.add_argument("--budget", default=None, help="budget_service address host:port (or a local socket)")
    ap.add_argument("--local-address", default=None, metavar="ADDR",
                    help="also listen on this local socket (unix-abstract:NAME or unix:PATH; set by the gemgate CLI)")
    ap.add_argument("--redis-prefix", default="gemgate:", help="prefix of the Redis keys it writes (stored responses)")
    ap.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on 127.0.0.1:PORT")
    args = ap.parse_args(argv)
    logsetup.setup("router")
    config = config_views.take()  # started by the `gemgate` CLI: the config it checked, without pydantic
    if config is None:
        from gemgate.config import load_config

        try:
            config = load_config(args.config)
        except ConfigError as exc:
            sys.exit(f"router_service: {exc}")
    logsetup.configure("router", config.litellm_settings)
    print_warnings(config, "router_service")  # standalone runs; under the gemgate CLI it printed them
    try:
        secret = internal_auth.require(config, who="router_service")
    except internal_auth.SecretError as exc:
        sys.exit(str(exc))
    budget = args.budget or config.general_settings.budget_address
    if args.metrics_port:
        metrics.start_metrics_server(args.metrics_port, secret=secret)
    try:
        loop.run(run(config, f"{args.host}:{args.port}", budget, secret, args.redis_prefix, args.local_address))
    except ConfigError as exc:  # callbacks configured without their environment
        sys.exit(f"router_service: {exc}")
