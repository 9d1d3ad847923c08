"""`python -m budget_service --config config.yaml --port 4002`"""

from __future__ import annotations

import argparse
import asyncio
import sys

from gemgate import logsetup
from gemgate.config import ConfigError, load_config
from gemgate.grpc_server import serve
from gemgate.v1 import budget_pb2, budget_pb2_grpc
from budget_service.servicer import BudgetServicer


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="budget_service")
    ap.add_argument("--config", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4002)
    args = ap.parse_args(argv)
    logsetup.setup("budget")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.exit(f"budget_service: {exc}")
    servicer = BudgetServicer(config.general_settings.master_key)
    service_name = budget_pb2.DESCRIPTOR.services_by_name["BudgetService"].full_name
    asyncio.run(
        serve(
            name="budget_service",
            address=f"{args.host}:{args.port}",
            register=lambda s: budget_pb2_grpc.add_BudgetServiceServicer_to_server(servicer, s),
            service_names=[service_name],
        )
    )
