"""`python -m budget_service --config config.yaml --port 4002`"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from budget_service.durable import DurableStore
from budget_service.ledger import Ledger
from budget_service.record import open_record
from budget_service.record.migrate import MigrationError
from budget_service.records_servicer import RecordServicer
from budget_service.redis_store import RedisStore
from budget_service.servicer import BudgetServicer
from typing import TYPE_CHECKING

from budget_service import handover
from gemgate import internal_auth, logsetup, loop, metrics
from gemgate.errors import GatewayError
from gemgate.grpc_server import serve
from gemgate.v1 import budget_pb2, budget_pb2_grpc, records_pb2, records_pb2_grpc

if TYPE_CHECKING:
    from gemgate.config import GatewayConfig  # loaded only to read a config file (see main)

SERVICE_NAME = budget_pb2.DESCRIPTOR.services_by_name["BudgetService"].full_name
RECORD_SERVICE_NAME = records_pb2.DESCRIPTOR.services_by_name["RecordService"].full_name
log = logging.getLogger("gemgate.budget")

VOLATILE_WARNING = (
    "Redis has no persistence (appendonly no, no save points) and no database_url is set: a Redis restart "
    "loses every virtual key, team and user, all spend and budgets (keys then answer 401). Set "
    "general_settings.database_url (PostgreSQL) to keep them, or turn on Redis AOF (appendonly yes)."
)


def proxy_budget(config: GatewayConfig) -> dict | None:
    """litellm_settings.max_budget (USD) / budget_duration as the ledger's proxy-wide budget entity."""
    ls = config.litellm_settings
    if ls.max_budget is None:
        return None
    return {"max_budget": round(ls.max_budget * 1_000_000), "budget_duration": ls.budget_duration}


def access_groups(config: GatewayConfig) -> dict[str, set[str]]:
    """model_info.access_groups -> {access group: model group names}."""
    out: dict[str, set[str]] = {}
    for dep in config.model_list:
        for g in dep.model_info.access_groups:
            out.setdefault(g, set()).add(dep.model_name)
    return out


def build(config: GatewayConfig, store, **ledger_kw) -> BudgetServicer:
    return BudgetServicer(Ledger(store, config.general_settings.master_key, proxy_budget=proxy_budget(config),
                                 access_groups=access_groups(config), **ledger_kw))


async def redis_is_volatile(store: RedisStore) -> bool | None:
    """True when Redis keeps nothing across a restart; None when it will not say (CONFIG disabled)."""
    try:
        cfg = await store._do(store.r.config_get("appendonly"))
        cfg.update(await store._do(store.r.config_get("save")))
    except Exception:  # managed Redis often disables CONFIG
        return None
    return cfg.get("appendonly") == "no" and not (cfg.get("save") or "").strip()


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


async def run(config: GatewayConfig, address: str, *, prefix: str = "gemgate:", secret: str | None = None,
              local_address: str | None = None) -> None:
    gs = config.general_settings
    try:
        store = RedisStore.from_url(config.redis_url(), prefix=prefix, deadline=gs.budget_deadline)
    except ValueError as exc:  # the Redis URL itself is wrong (scheme, parameter, database number)
        raise SystemExit(f"budget_service: {exc}") from None
    if gs.master_key:
        try:
            await store.ping()
        except GatewayError as exc:
            await store.close()
            raise SystemExit(
                "budget_service: general_settings.master_key is set, so keys and budgets need Redis, but Redis "
                f"is not reachable ({exc.message}). Provide one with general_settings.redis_url in the config or the REDIS_URL "
                "environment variable (e.g. redis://127.0.0.1:6379/0)."
            ) from None
    grace = _env_seconds("GEMGATE_DEAD_ROUTER_GRACE", 15.0)
    db_url = config.database_url()
    record = durable = None
    if db_url:
        try:
            # PostgreSQL down at startup: serve from Redis, connect (and migrate) in the background
            record = await open_record(db_url, lazy=True, pool_size=gs.database_connection_pool_limit)
        except MigrationError as exc:
            await store.close()
            raise SystemExit(f"budget_service: database schema: {exc}") from None
        durable = DurableStore(store, record)
        ledger = Ledger(durable, gs.master_key, proxy_budget=proxy_budget(config),
                        access_groups=access_groups(config), dead_router_grace=grace)
        durable.bind(ledger)
        try:
            await durable.start()
        except GatewayError as exc:  # Redis empty and PostgreSQL down: keys answer 503 until it returns
            log.warning("budget_service: Redis could not be synced with the database yet (%s); retrying in the "
                        "background", exc.message)
            durable.start_tasks()
    else:
        ledger = Ledger(store, gs.master_key, proxy_budget=proxy_budget(config), access_groups=access_groups(config),
                        dead_router_grace=grace)
        if gs.master_key and await redis_is_volatile(store):
            log.warning(VOLATILE_WARNING)
    servicer = BudgetServicer(ledger)
    records = RecordServicer(ledger, record)

    def register(server) -> None:
        budget_pb2_grpc.add_BudgetServiceServicer_to_server(servicer, server)
        records_pb2_grpc.add_RecordServiceServicer_to_server(records, server)

    sweeper = asyncio.get_running_loop().create_task(
        sweep_forever(ledger, _env_seconds("GEMGATE_SWEEP_INTERVAL", 5.0)))

    async def on_stop() -> None:
        sweeper.cancel()
        if durable is not None:
            await durable.stop()
        await store.close()

    async def redis_reachable() -> bool:  # readiness: keyed requests need Redis
        try:
            return await store.ping()
        except GatewayError:
            return False

    await serve(
        name="budget_service",
        address=address,
        local_address=local_address,
        register=register,
        service_names=[SERVICE_NAME, RECORD_SERVICE_NAME],
        on_stop=on_stop,
        on_stopping=servicer.end_streams,
        internal_secret=secret,
        probe=redis_reachable if config.general_settings.master_key else None,
    )


def _load(path: str) -> GatewayConfig:
    from gemgate.config import ConfigError, load_config

    try:
        config = load_config(path)
        config.database_url()
    except ConfigError as exc:
        sys.exit(f"budget_service: {exc}")
    return config


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="budget_service")
    ap.add_argument("--config", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4002)
    ap.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on 127.0.0.1:PORT")
    ap.add_argument("--redis-prefix", default="gemgate:", help="prefix of every Redis key (default gemgate:)")
    ap.add_argument("--local-address", default=None, metavar="ADDR",
                    help="also listen on this local socket (unix-abstract:NAME or unix:PATH; set by the gemgate CLI)")
    args = ap.parse_args(argv)
    logsetup.setup("budget")
    # under the gemgate CLI: the settings it handed over (budget_service/handover.py), so this
    # process never loads the config machinery (pydantic, yaml); on its own: the config file
    config = handover.take() or _load(args.config)
    logsetup.configure("budget", config.litellm_settings)
    try:
        secret = internal_auth.require(config, who="budget_service")
    except internal_auth.SecretError as exc:
        sys.exit(str(exc))
    if args.metrics_port:
        metrics.start_metrics_server(args.metrics_port, secret=secret)
    loop.run(run(config, f"{args.host}:{args.port}", prefix=args.redis_prefix, secret=secret,
                 local_address=args.local_address))
