"""The internal gRPC credential: a shared secret every caller of budget_service and router_service
sends as metadata `x-gemgate-internal-secret`.

Where it comes from: the environment variable `GEMGATE_INTERNAL_SECRET`, else
`general_settings.internal_secret` in the config (which may be `os.environ/VAR`). The `gemgate` CLI
generates a fresh random one for each run when neither is set and hands it to its children through
the environment (never on the command line). A service started without one refuses to start.

Servers: `ServerAuth(secret)` (installed by gemgate.grpc_server.serve) answers UNAUTHENTICATED to
any RPC without the right secret, except the gRPC health service (so probes keep working).
Clients: `channel(address, secret)` attaches the secret to every call. `address` may list several
workers of one service (`127.0.0.1:4001,127.0.0.1:4101`, as `gemgate --num_workers N` starts them):
calls are then spread round-robin over the workers that are up, and a dead worker is skipped until it
is back.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import socket
from collections.abc import Mapping

import grpc

from gemgate import local_sockets

ENV = "GEMGATE_INTERNAL_SECRET"
METADATA_KEY = "x-gemgate-internal-secret"
MIN_LENGTH = 32
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)  # health stays reachable without the secret

# internal channels reconnect quickly after a restarted service (gRPC's default backoff grows to 120 s)
RECONNECT_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class SecretError(ValueError):
    """No usable internal secret; the message says how to provide one."""


def generate() -> str:
    return secrets.token_urlsafe(32)


def resolve(config=None, environ: Mapping[str, str] | None = None) -> str | None:
    """The configured secret (environment first, then general_settings.internal_secret), or None."""
    env = os.environ if environ is None else environ
    value = env.get(ENV) or (getattr(config.general_settings, "internal_secret", None) if config is not None else None)
    return value or None


def require(config=None, environ: Mapping[str, str] | None = None, *, who: str = "gemgate") -> str:
    value = resolve(config, environ)
    if not value:
        raise SecretError(
            f"{who}: no internal gRPC credential. Set the environment variable {ENV} (or "
            f"general_settings.internal_secret) to the same random string (at least {MIN_LENGTH} characters) "
            f"for every gemgate service; the `gemgate` CLI generates one for you.")
    if len(value) < MIN_LENGTH:
        raise SecretError(f"{who}: {ENV} / general_settings.internal_secret is too short "
                          f"(at least {MIN_LENGTH} characters; e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
    return value


def matches(secret: str, metadata) -> bool:
    for key, value in metadata or ():
        if key == METADATA_KEY:
            return hmac.compare_digest(value.encode(), secret.encode())
    return False


# ---- server side -------------------------------------------------------------------------------
def _refuse(handler: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler:
    async def unary(_request, context):
        await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                            "internal gRPC credential missing or wrong (metadata x-gemgate-internal-secret)")

    async def streaming(_request, context):
        await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                            "internal gRPC credential missing or wrong (metadata x-gemgate-internal-secret)")
        yield  # pragma: no cover - makes this an async generator

    if handler is not None and handler.request_streaming:
        async def stream_in(_it, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                "internal gRPC credential missing or wrong (metadata x-gemgate-internal-secret)")
            yield  # pragma: no cover

        if handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(stream_in)
        return grpc.stream_unary_rpc_method_handler(unary)
    if handler is not None and handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(streaming)
    return grpc.unary_unary_rpc_method_handler(unary)


class ServerAuth(grpc.aio.ServerInterceptor):
    def __init__(self, secret: str) -> None:
        self.secret = secret

    async def intercept_service(self, continuation, details: grpc.HandlerCallDetails):
        if details.method.startswith(OPEN_PREFIXES) or matches(self.secret, details.invocation_metadata):
            return await continuation(details)
        return _refuse(await continuation(details))


# ---- client side -------------------------------------------------------------------------------
class _WithSecret:
    """A multi-callable that adds the secret to the call's metadata (no client interceptor: gRPC's
    aio interceptors cost an extra task per call on the hot path)."""

    __slots__ = ("_inner", "_pair")

    def __init__(self, inner, pair: tuple[str, str]) -> None:
        self._inner, self._pair = inner, pair

    def __call__(self, request, *, metadata=None, **kwargs):
        return self._inner(request, metadata=(*(metadata or ()), self._pair), **kwargs)


class SecretChannel:
    """An aio channel whose every call carries the internal secret; otherwise the channel itself."""

    def __init__(self, inner: grpc.aio.Channel, secret: str) -> None:
        self._inner = inner
        self._pair = (METADATA_KEY, secret)

    def unary_unary(self, *args, **kwargs):
        return _WithSecret(self._inner.unary_unary(*args, **kwargs), self._pair)

    def unary_stream(self, *args, **kwargs):
        return _WithSecret(self._inner.unary_stream(*args, **kwargs), self._pair)

    def stream_unary(self, *args, **kwargs):
        return _WithSecret(self._inner.stream_unary(*args, **kwargs), self._pair)

    def stream_stream(self, *args, **kwargs):
        return _WithSecret(self._inner.stream_stream(*args, **kwargs), self._pair)

    def __getattr__(self, name: str):  # close, channel_ready, get_state, ...
        return getattr(self._inner, name)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self._inner.close()


def _split_hostport(address: str) -> tuple[str, str]:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"internal address {address!r} is not host:port")
    return host.strip("[]"), port


def _resolve(host: str, port: int) -> str:
    """One address of `host`, IPv4 first (so `localhost` means 127.0.0.1 wherever the others are IPv4)."""
    try:
        return socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror:
        return socket.getaddrinfo(host, port, socket.AF_INET6, socket.SOCK_STREAM)[0][4][0]


def balanced_target(addresses: str) -> str:
    """A gRPC target naming every `host:port` of a comma-separated list (hostnames resolved once,
    here), for the round_robin policy: `ipv4:10.0.0.1:4001,10.0.0.1:4101` (or `ipv6:[..]:p,...`;
    local sockets: `unix-abstract:a,b`, gemgate/local_sockets.py)."""
    parts = [a.strip() for a in addresses.split(",")]
    if any(local_sockets.is_local(a) for a in parts):
        return local_sockets.balanced_target(parts)
    v4: list[str] = []
    v6: list[str] = []
    for address in parts:
        host, port = _split_hostport(address)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = ipaddress.ip_address(_resolve(host, int(port)))
        (v4 if ip.version == 4 else v6).append(f"{ip}:{port}" if ip.version == 4 else f"[{ip}]:{port}")
    if v4 and v6:
        raise ValueError(f"internal addresses {addresses!r} mix IPv4 and IPv6")
    return f"ipv4:{','.join(v4)}" if v4 else f"ipv6:{','.join(v6)}"


def channel(address: str, secret: str | None, options: list | None = None):
    """An aio channel to an internal service that sends `secret` with every call; `address` is
    `host:port` or a comma-separated list of the workers of one service (round-robin over them)."""
    opts = [*(options or []), *RECONNECT_OPTIONS]
    if "," in address:
        address = balanced_target(address)
        opts.append(("grpc.lb_policy_name", "round_robin"))
    inner = grpc.aio.insecure_channel(address, options=opts)
    return SecretChannel(inner, secret) if secret else inner


def metadata(secret: str) -> tuple[tuple[str, str], ...]:
    """For synchronous/foreign clients: pass as `metadata=` on each call."""
    return ((METADATA_KEY, secret),)
