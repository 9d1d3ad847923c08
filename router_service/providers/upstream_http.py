"""The router's pooled HTTP client for provider calls, on aiohttp (about a tenth of httpx's CPU per
request in the benchmark). It offers the small surface the providers use:

    resp = await http.post(url, json=body, headers=h, timeout=t)   # .status_code .content .json()
    async with http.stream("POST", url, json=body, headers=h, timeout=t) as resp:
        resp.status_code; await resp.aread(); async for line in resp.aiter_lines(): ...

and raises UpstreamTransportError (UpstreamTimeout for timeouts) when the upstream cannot be reached
or read, which the providers map to gateway errors (ai_studio.transport_error). `timeout` is per
phase: connecting, and the wait for each read. Redirects are never followed and the environment's
proxy settings are not read.
"""

from __future__ import annotations

import asyncio
import errno
import json as _json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import orjson

POOL_LIMIT = 1000
STALE_RETRIES = 2  # a reused connection the upstream had closed: sent again on another one
_STALE_ERRNOS = (errno.ECONNRESET, errno.EPIPE)
KEEPALIVE_SECONDS = 60.0


def _encode(body) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # e.g. an integer beyond 64 bits: the standard library still encodes it
        return _json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class UpstreamTransportError(Exception):
    """The upstream could not be reached, or its reply could not be read to the end."""


class UpstreamTimeout(UpstreamTransportError):
    """No connection, or no data, within the timeout."""


def _transport_error(exc: BaseException) -> UpstreamTransportError:
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return UpstreamTimeout(type(exc).__name__)
    return UpstreamTransportError(type(exc).__name__)


_FAILURES = (aiohttp.ClientError, asyncio.TimeoutError)


class Reply:
    """A whole upstream reply (unary calls)."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers, content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content

    def json(self):
        return orjson.loads(self.content)


class StreamReply:
    """An upstream reply being read (streams): lines are split here, not by aiohttp, so a single
    event line of any size (an inline image, say) is fine."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status_code = resp.status
        self.headers = resp.headers

    async def aread(self) -> bytes:
        try:
            return await self._resp.read()
        except _FAILURES as exc:
            raise _transport_error(exc) from None

    async def aiter_lines(self) -> AsyncIterator[str]:
        pending = b""
        try:
            async for chunk in self._resp.content.iter_any():
                pending += chunk
                if b"\n" not in chunk:
                    continue
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
        except _FAILURES as exc:
            raise _transport_error(exc) from None
        if pending:
            yield pending.decode("utf-8", "replace")


class UpstreamClient:
    def __init__(self, *, limit: int = POOL_LIMIT, keepalive: float = KEEPALIVE_SECONDS) -> None:
        self._limit, self._keepalive = limit, keepalive
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=self._keepalive,
                                             ttl_dns_cache=300, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=True,
                                                  cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    @staticmethod
    def _args(json, headers: dict | None, timeout: float) -> dict:
        h = dict(headers or {})
        if json is not None and not any(k.lower() == "content-type" for k in h):
            h["content-type"] = "application/json"
        return {"data": _encode(json) if json is not None else None, "headers": h, "allow_redirects": False,
                "timeout": aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)}

    async def _send(self, method: str, url: str, args: dict) -> aiohttp.ClientResponse:
        """Send and wait for the reply's head. A pooled keep-alive connection the upstream closed
        just as it was reused (the request reached no server: the connection went away before any
        reply byte) is retried on another connection, at most STALE_RETRIES times."""
        for attempt in range(STALE_RETRIES + 1):
            try:
                return await self._open().request(method, url, **args)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                stale = isinstance(exc, aiohttp.ServerDisconnectedError) or exc.errno in _STALE_ERRNOS
                if not stale or attempt == STALE_RETRIES:
                    raise
        raise AssertionError("unreachable")

    async def post(self, url: str, *, json=None, headers: dict | None = None, timeout: float = 600.0) -> Reply:
        try:
            resp = await self._send("POST", url, self._args(json, headers, timeout))
            async with resp:
                return Reply(resp.status, resp.headers, await resp.read())
        except _FAILURES as exc:
            raise _transport_error(exc) from None

    @asynccontextmanager
    async def stream(self, method: str, url: str, *, json=None, headers: dict | None = None,
                     timeout: float = 600.0) -> AsyncIterator[StreamReply]:
        try:
            resp = await self._send(method, url, self._args(json, headers, timeout))
        except _FAILURES as exc:
            raise _transport_error(exc) from None
        try:
            yield StreamReply(resp)
        finally:
            resp.release() if resp.content.at_eof() else resp.close()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
