"""Shared gRPC server lifecycle: health (grpc.health.v1), reflection, graceful SIGTERM shutdown
(NOT_SERVING -> drain in-flight RPCs -> stop)."""

from __future__ import annotations

import asyncio
import os
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from gemgate import gc_tuning
from gemgate.internal_auth import ServerAuth

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
    on_stopping: Callable[[], None] | None = None,
    ready: Callable[[], Awaitable[None]] | None = None,
    internal_secret: str | None = None,
    probe: Callable[[], Awaitable[bool]] | None = None,
    probe_interval: float = 1.0,
    local_address: str | None = None,
) -> None:
    """`local_address`: a local socket to listen on as well (gemgate/local_sockets.py), for gemgate's
    own processes on this machine; the same servicers, the same internal secret.
    `internal_secret`: refuse RPCs without it (gemgate.internal_auth; health stays open).
    `on_stopping`: called when a stop begins, before in-flight RPCs get their grace period;
    `on_stop`: awaited once the server has stopped.
    `probe`: polled every `probe_interval` s; health is NOT_SERVING while it returns False (e.g.
    budget_service without Redis), so readiness checks see what requests will meet."""
    interceptors = [ServerAuth(internal_secret)] if internal_secret else []
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0), *MESSAGE_OPTIONS], interceptors=interceptors)
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    for where in (address, local_address):
        if not where:
            continue
        try:
            server.add_insecure_port(where)
        except RuntimeError as exc:
            raise SystemExit(f"{name}: cannot listen on {where}: {exc}") from None
    await server.start()
    if ready is not None:
        await ready()
    for svc in ["", *names]:
        await health_servicer.set(svc, health_pb2.HealthCheckResponse.SERVING)
    log.info("%s listening on %s%s", name, address, f" and {local_address}" if local_address else "")
    gc_tuning.settle()
    notify_ready()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    prober = loop.create_task(_probe_loop(name, health_servicer, names, probe, probe_interval, stop)) if probe else None
    await stop.wait()
    log.info("%s shutting down", name)
    if prober is not None:
        prober.cancel()
    await health_servicer.enter_graceful_shutdown()
    if on_stopping is not None:  # e.g. end long-lived idle streams, which would hold the grace period
        on_stopping()
    await server.stop(GRACE_SECONDS)
    if on_stop is not None:
        await on_stop()
    log.info("%s stopped", name)


async def _probe_loop(name: str, health_servicer, names: list[str], probe, interval: float, stop: asyncio.Event) -> None:
    serving = True
    while not stop.is_set():
        try:
            ok = bool(await probe())
        except Exception:  # a probe that fails means not ready
            ok = False
        if ok != serving:
            serving = ok
            status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
            for svc in ["", *names]:
                await health_servicer.set(svc, status)
            (log.info if ok else log.warning)("%s: %s", name, "dependencies reachable again, SERVING" if ok
                                               else "a dependency is unreachable, health NOT_SERVING")
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass


def notify_ready() -> None:
    """Tell the supervisor (gemgate/supervisor.py) that this service serves: one line on the pipe
    it passed in GEMGATE_READY_FD. Without one (started alone), nothing to do."""
    from gemgate.supervisor import READY_FD_ENV

    fd = os.environ.pop(READY_FD_ENV, "")
    if not fd.isdigit():
        return
    try:
        os.write(int(fd), b"ready\n")
        os.close(int(fd))
    except OSError:
        pass
