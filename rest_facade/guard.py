"""App-wide input protection, as one pure ASGI middleware (every route gets it, including routes
other modules add later):

- header values that reach the internal services (credentials, x-request-id) must be printable
  ASCII: anything else is a 4xx naming the header, never a 500 from the gRPC layer;
- the body is read here, up to `max_body_bytes` (general_settings.max_request_size_mb): a
  Content-Length above it is refused before a byte is read, a chunked body is refused as soon as it
  crosses it (413, `Connection: close`: the rest of an oversized upload is never read);
- with virtual keys on, a body larger than `preauth_bytes` is read only after the key was accepted
  (budget_service Authorize): an unauthenticated client cannot make the facade buffer more than that;
- an unexpected exception becomes the OpenAI 500 envelope here, so the connection stays usable
  (Starlette's own last-resort handler re-raises, and uvicorn then closes the connection).

The route sees the whole body as one `http.request` message (so `await request.body()` works as
usual); later `receive()` calls go to the server (disconnect detection for streams).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from gemgate.errors import ErrorKind, GatewayError

log = logging.getLogger("gemgate.facade")

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
PREAUTH_BYTES = 1024 * 1024
CREDENTIAL_HEADERS = (b"authorization", b"x-litellm-api-key", b"api-key", b"x-api-key", b"x-goog-api-key")
CHECKED_HEADERS = (*CREDENTIAL_HEADERS, b"x-request-id")

# check_key(api_key) -> None when accepted, else the GatewayError to answer with
KeyCheck = Callable[[str], Awaitable[GatewayError | None]]


def _printable(value: bytes) -> bool:
    return all(0x20 <= b <= 0x7E for b in value)


def header_error(headers: list[tuple[bytes, bytes]]) -> GatewayError | None:
    for name, value in headers:
        if name in CHECKED_HEADERS and not _printable(value):
            kind = ErrorKind.AUTHENTICATION if name in CREDENTIAL_HEADERS else ErrorKind.INVALID_REQUEST
            return GatewayError(kind, f"header {name.decode()} must contain only printable ASCII characters",
                                param=name.decode())
    return None


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    found: dict[bytes, bytes] = {n: v for n, v in headers if n in CREDENTIAL_HEADERS}
    auth = found.get(b"authorization")
    if auth:
        scheme, _, token = auth.decode("latin-1").partition(" ")
        return (token if scheme.lower() == "bearer" else auth.decode("latin-1")).strip() or None
    for name in (b"x-litellm-api-key", b"api-key"):
        if found.get(name):
            return found[name].decode("latin-1").strip() or None
    return None


async def send_error(send, err: GatewayError, *, close: bool = False) -> None:
    body = json.dumps(err.openai_body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": err.kind.info.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _too_large(limit: int) -> GatewayError:
    return GatewayError(ErrorKind.PAYLOAD_TOO_LARGE,
                        f"request body is larger than {limit} bytes (general_settings.max_request_size_mb)")


class InputGuard:
    def __init__(self, app, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, check_key: KeyCheck | None = None,
                 preauth_bytes: int = PREAUTH_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.check_key = check_key
        self.preauth_bytes = preauth_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._guarded(scope, receive, tracking_send)
        except Exception as exc:  # the last resort: log it, answer the envelope, keep the connection
            log.exception("unexpected error in facade", exc_info=exc)
            if started:
                raise
            await send_error(send, GatewayError(ErrorKind.INTERNAL, "internal error in rest_facade"))

    async def _guarded(self, scope, receive, send) -> None:
        headers = scope.get("headers") or []
        err = header_error(headers)
        if err is not None:  # read a small body first, so the connection stays usable
            drained = await self._drain(receive, self.preauth_bytes)
            await send_error(send, err, close=not drained)
            return
        length = self._content_length(headers)
        if length is not None and length > self.max_body_bytes:
            await send_error(send, _too_large(self.max_body_bytes), close=True)
            return
        authorized = False
        if length is not None and length > self.preauth_bytes:
            err = await self._preauth(headers)
            if err is not None:
                await send_error(send, err, close=True)
                return
            authorized = True
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away before the body arrived
                return
            chunk = message.get("body", b"")
            if chunk:
                total += len(chunk)
                if total > self.max_body_bytes:
                    await send_error(send, _too_large(self.max_body_bytes), close=True)
                    return
                chunks.append(chunk)
                if not authorized and total > self.preauth_bytes:
                    err = await self._preauth(headers)
                    if err is not None:
                        chunks.clear()
                        await send_error(send, err, close=True)
                        return
                    authorized = True
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        await self.app(scope, self._replay(body, receive), send)

    @staticmethod
    async def _drain(receive, limit: int) -> bool:
        """Read and drop the request body if it is at most `limit` bytes; False if it is larger."""
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return False
            total += len(message.get("body", b""))
            if total > limit:
                return False
            if not message.get("more_body", False):
                return True

    @staticmethod
    def _content_length(headers) -> int | None:
        for name, value in headers:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    async def _preauth(self, headers) -> GatewayError | None:
        if self.check_key is None:
            return None
        key = presented_key(headers)
        if not key:
            return GatewayError(ErrorKind.AUTHENTICATION, "No API key provided (Authorization: Bearer <key>).")
        return await self.check_key(key)

    @staticmethod
    def _replay(body: bytes, receive):
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay
