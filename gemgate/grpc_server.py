"""Shared gRPC server lifecycle: health (grpc.health.v1), reflection, graceful SIGTERM shutdown
(NOT_SERVING -> drain in-flight RPCs -> stop)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

log = logging.getLogger("gemgate.grpc")

GRACE_SECONDS = 10.0

# Shared by servers and channels: images and files travel inline, so allow large messages.
MESSAGE_OPTIONS = [
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
]


async def serve(
    *,
    name: str,
    address: str,
    register: Callable[[grpc.aio.Server], None],
    service_names: Iterable[str],
    on_stop: Callable[[], Awaitable[None]] | None = None,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0), *MESSAGE_OPTIONS])
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    try:
        server.add_insecure_port(address)
    except RuntimeError as exc:
        raise SystemExit(f"{name}: cannot listen on {address}: {exc}") from None
    await server.start()
    if ready is not None:
        await ready()
    for svc in ["", *names]:
        await health_servicer.set(svc, health_pb2.HealthCheckResponse.SERVING)
    log.info("%s listening on %s", name, address)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("%s shutting down", name)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(GRACE_SECONDS)
    if on_stop is not None:
        await on_stop()
    log.info("%s stopped", name)
