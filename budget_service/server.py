"""`python -m budget_service --config config.yaml --port 4002`"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from budget_service.ledger import Ledger
from budget_service.redis_store import RedisStore
from budget_service.servicer import BudgetServicer
from gemgate import logsetup, loop, metrics
from gemgate.config import ConfigError, GatewayConfig, load_config
from gemgate.errors import GatewayError
from gemgate.grpc_server import serve
from gemgate.v1 import budget_pb2, budget_pb2_grpc

log = logging.getLogger("gemgate.budget")
SERVICE_NAME = budget_pb2.DESCRIPTOR.services_by_name["BudgetService"].full_name


def build(config: GatewayConfig, store: RedisStore, **ledger_kw) -> BudgetServicer:
    return BudgetServicer(Ledger(store, config.general_settings.master_key, **ledger_kw))


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        raise SystemExit(f"budget_service: {name} must be a number of seconds") from None
    if not value > 0:
        raise SystemExit(f"budget_service: {name} must be > 0")
    return value


async def sweep_forever(ledger: Ledger, interval: float) -> None:
    """Resolve dead routers' reservations even when no request arrives to run the sweep."""
    while True:
        await asyncio.sleep(interval)
        try:
            n = await ledger.sweep()
            if n:
                log.info("resolved %d reservation(s) of dead routers or past their deadline", n)
        except GatewayError:
            pass  # Redis away: the next round (or request) sweeps
        except Exception:  # pragma: no cover - a bug must not stop the sweeper
            log.exception("reservation sweep failed")


async def run(config: GatewayConfig, address: str, *, prefix: str = "gemgate:") -> None:
    store = RedisStore.from_url(config.redis_url(), prefix=prefix, deadline=config.general_settings.budget_deadline)
    if config.general_settings.master_key:
        try:
            await store.ping()
        except GatewayError:
            await store.close()
            raise SystemExit(
                "budget_service: general_settings.master_key is set, so keys and budgets need Redis, but Redis "
                "is not reachable. Provide one with general_settings.redis_url in the config or the REDIS_URL "
                "environment variable (e.g. redis://127.0.0.1:6379/0)."
            ) from None
    servicer = build(config, store, dead_router_grace=_env_seconds("GEMGATE_DEAD_ROUTER_GRACE", 15.0))
    sweeper = asyncio.get_running_loop().create_task(
        sweep_forever(servicer.ledger, _env_seconds("GEMGATE_SWEEP_INTERVAL", 5.0)))

    async def on_stop() -> None:
        sweeper.cancel()
        await store.close()

    await serve(
        name="budget_service",
        address=address,
        register=lambda s: budget_pb2_grpc.add_BudgetServiceServicer_to_server(servicer, s),
        service_names=[SERVICE_NAME],
        on_stop=on_stop,
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="budget_service")
    ap.add_argument("--config", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4002)
    ap.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on 127.0.0.1:PORT")
    ap.add_argument("--redis-prefix", default="gemgate:", help="prefix of every Redis key (default gemgate:)")
    args = ap.parse_args(argv)
    logsetup.setup("budget")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.exit(f"budget_service: {exc}")
    logsetup.configure("budget", config.litellm_settings)
    if args.metrics_port:
        metrics.start_metrics_server(args.metrics_port)
    loop.run(run(config, f"{args.host}:{args.port}", prefix=args.redis_prefix))
