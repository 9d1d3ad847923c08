"""The router's pooled HTTP client for provider calls: HTTP/1.1 on asyncio, replies parsed by
httptools (llhttp, in C); one connection is http1_connection.py, the keep-alive pool is
http1_pool.py. It offers the small surface the providers use:

    resp = await http.post(url, json=body, headers=h, timeout=t)   # .status_code .headers .content .json()
    async with http.stream("POST", url, json=body, headers=h, timeout=t) as resp:
        resp.status_code; await resp.aread(); async for line in resp.aiter_lines(): ...

and raises UpstreamTransportError (UpstreamTimeout for timeouts) when the upstream cannot be reached
or read, which the providers map to gateway errors (ai_studio.transport_error). `timeout` is per
phase: connecting (name lookup, the IPv6/IPv4 race of http1_dial.py, TLS handshake), and the wait
for each read, and the wait for a free connection while `limit` are open (UpstreamTimeout "pool").
Redirects are never followed (a 3xx is returned as it is), the environment's proxy settings are not
read, no cookies are kept.

Requests carry the caller's headers as given plus, unless the caller set them: Host,
`content-type: application/json` (with a json body), `accept-encoding: gzip, deflate` (gzip and
deflate replies are decoded as they arrive) and `user-agent: gemgate`; Content-Length is always ours.
Reply headers are a read-only mapping, case-insensitive, a repeated header's values joined with ", ".
HEAD is not supported (its reply's framing differs and nothing here needs it).
"""

from __future__ import annotations

import asyncio
import json as _json
import re
import ssl
from collections.abc import AsyncIterator
from functools import lru_cache
from urllib.parse import quote, urlsplit

import orjson

from router_service.providers.http1_connection import (
    MAX_REPLY_BYTES,
    Http1Connection,
    ReplyHeaders,
    StaleConnection,
    UpstreamTimeout,
    UpstreamTransportError,
    too_large,
)
from router_service.providers.http1_dial import dial
from router_service.providers.http1_pool import ConnectionPool, Key

__all__ = ["UpstreamClient", "Reply", "StreamReply", "ReplyHeaders", "UpstreamTransportError", "UpstreamTimeout"]

POOL_LIMIT = 1000
STALE_RETRIES = 2  # a reused connection the upstream had closed: sent again on a new one
KEEPALIVE_SECONDS = 60.0
USER_AGENT = "gemgate"


def _encode(body) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # e.g. an integer beyond 64 bits: the standard library still encodes it
        return _json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class Reply:
    """A whole upstream reply (unary calls)."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: ReplyHeaders, content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content

    def json(self):
        return orjson.loads(self.content)


class StreamReply:
    """An upstream reply being read (streams): lines are split here, so a single event line of any
    size (an inline image, say) is fine."""

    __slots__ = ("_conn", "status_code", "headers")

    def __init__(self, conn: Http1Connection) -> None:
        self._conn, self.status_code, self.headers = conn, conn.status, conn.headers

    async def aread(self) -> bytes:
        return await self._conn.read_all()

    async def aiter_lines(self) -> AsyncIterator[str]:
        limit = MAX_REPLY_BYTES  # one line (a single inline image may be large; no line is larger)
        pieces: list[bytes] = []  # a line still arriving
        waiting = 0  # its bytes so far
        read = self._conn.read_some
        while data := await read():
            if b"\n" not in data:
                waiting += len(data)
                if waiting > limit:  # one line without end: cut off (the caller closes the connection)
                    raise too_large(limit)
                pieces.append(data)
                continue
            if pieces:
                pieces.append(data)
                data = b"".join(pieces)
            *lines, rest = data.split(b"\n")
            if len(data) > limit and max(len(x) for x in (*lines, rest)) > limit:
                raise too_large(limit)
            for line in lines:
                yield line.decode("utf-8", "replace")
            pieces, waiting = ([rest], len(rest)) if rest else ([], 0)
        if pieces:
            yield b"".join(pieces).decode("utf-8", "replace")


class _StreamCall:
    """`async with client.stream(...) as reply`: the connection goes back to the pool only when the
    reply was read to its end; otherwise it is closed."""

    __slots__ = ("_client", "_args", "_conn")

    def __init__(self, client: UpstreamClient, args: tuple) -> None:
        self._client, self._args, self._conn = client, args, None

    async def __aenter__(self) -> StreamReply:
        self._conn = await self._client._send(*self._args)
        return StreamReply(self._conn)

    async def __aexit__(self, *exc_info) -> None:
        conn, self._conn = self._conn, None
        self._client._pool.release(conn, conn.reusable())


# ---- the request head ----
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNSAFE_IN_TARGET = re.compile(r'[^!-~]|["<>\\^`{|}]')  # what must be percent-encoded in a request target
_WATCHED = frozenset({"host", "content-type", "accept-encoding", "user-agent", "content-length", "transfer-encoding"})
_FRAMING = frozenset({"content-length", "transfer-encoding"})  # ours: the body is framed here
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@lru_cache(maxsize=1024)
def _parse_url(url: str) -> tuple[Key, str, str]:
    """(pool key, request target, Host header) for an http(s) URL."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
        host.encode("ascii")
    except (ValueError, AttributeError, UnicodeError):
        raise UpstreamTransportError("InvalidURL") from None
    if scheme not in _DEFAULT_PORTS or not host:
        raise UpstreamTransportError("InvalidURL")
    default = _DEFAULT_PORTS[scheme]
    port = port or default
    host_header = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    if port != default:
        host_header = f"{host_header}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if _UNSAFE_IN_TARGET.search(target):
        target = quote(target, safe="!$%&'()*+,/:;=?@[]~")
    return (scheme, host, port), target, host_header


def _request_head(method: str, target: str, host: str, headers: dict | None, json_body: bool, length: int | None) -> bytes:
    own: set[str] = set()
    given = []
    if headers:
        for name, value in headers.items():
            low = name.lower()
            if low in _WATCHED:
                if low in _FRAMING:
                    continue
                own.add(low)
            given.append(f"{name}: {value}\r\n")
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    if "host" not in own:
        lines.append(f"host: {host}\r\n")
    lines += given
    if json_body and "content-type" not in own:
        lines.append("content-type: application/json\r\n")
    if length is not None:
        lines.append(f"content-length: {length}\r\n")
    if "accept-encoding" not in own:
        lines.append("accept-encoding: gzip, deflate\r\n")
    if "user-agent" not in own:
        lines.append(f"user-agent: {USER_AGENT}\r\n")
    lines.append("\r\n")
    text = "".join(lines)
    if text.count("\n") != len(lines) or text.count("\r") != len(lines) or "\0" in text:
        raise ValueError("CR, LF or NUL in a request header or target")  # header injection
    return text.encode()


class UpstreamClient:
    def __init__(self, *, limit: int = POOL_LIMIT, keepalive: float = KEEPALIVE_SECONDS,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context  # default: a verifying context, made at the first https call
        self._pool = ConnectionPool(limit, keepalive, self._connect)

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    async def _connect(self, key: Key, conn: Http1Connection, timeout: float | None) -> None:
        scheme, host, port = key
        tls = self._tls() if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                sock = await dial(host, port)  # IPv6/IPv4 raced (http1_dial.py): a dead family costs 0.25 s
                await loop.create_connection(lambda: conn, sock=sock, ssl=tls, server_hostname=host if tls else None)
        except TimeoutError:  # before OSError: TimeoutError is one
            raise UpstreamTimeout("connect") from None
        except (OSError, ValueError) as exc:  # refused, unresolvable, TLS verification (ssl errors are OSErrors)
            raise UpstreamTransportError(type(exc).__name__) from None

    async def _send(self, method: str, url: str, json, headers: dict | None, timeout: float | None) -> Http1Connection:
        """Send the request and wait for the reply's head. A pooled keep-alive connection the
        upstream closed just as it was reused (gone before any reply byte: the request reached no
        server) is retried on a new connection, at most STALE_RETRIES times."""
        if method == "HEAD":
            raise ValueError("HEAD is not supported")
        key, target, host = _parse_url(url)
        body = None if json is None else _encode(json)
        length = len(body) if body is not None else (0 if method in _BODY_METHODS else None)
        head = _request_head(method, target, host, headers, body is not None, length)
        for attempt in range(STALE_RETRIES + 1):
            conn = await self._pool.acquire(key, timeout, fresh=attempt > 0)
            try:
                conn.send(head, body, timeout)
                await conn.wait_head()
            except StaleConnection:
                self._pool.release(conn, False)
                continue
            except BaseException:
                self._pool.release(conn, False)
                raise
            return conn
        raise AssertionError("unreachable: only a reused connection is stale, and retries use new ones")

    async def post(self, url: str, *, json=None, headers: dict | None = None, timeout: float | None = 600.0) -> Reply:
        conn = await self._send("POST", url, json, headers, timeout)
        try:
            content = await conn.read_all()
        except BaseException:
            self._pool.release(conn, False)
            raise
        reply = Reply(conn.status, conn.headers, content)
        self._pool.release(conn, conn.reusable())
        return reply

    def stream(self, method: str, url: str, *, json=None, headers: dict | None = None,
               timeout: float | None = 600.0) -> _StreamCall:
        return _StreamCall(self, (method, url, json, headers, timeout))

    @property
    def open_connections(self) -> int:
        return self._pool.open_connections

    async def aclose(self) -> None:
        """Close every connection (replies being read fail); the client can still be used after."""
        self._pool.close_all()
        await asyncio.sleep(0)  # let the transports report their end
