"""A small asyncio Redis client (RESP2) for the processes that keep state in Redis.

budget_service (keys, budgets, spend) and router_service (response store, response cache, shared
routing state) talk to Redis through this instead of redis-py: redis-py's import alone costs each
of those processes about 10 MiB of memory (it also loads opentelemetry when installed), and its
per-command layers cost CPU on the admission path. Replies are parsed by hiredis's C reader.

What it does:
- `Redis.from_url(url, ...)`: redis://, rediss:// (TLS, certificate always verified) and unix://
  URLs with an optional user, password and database number (`/2` or `?db=2`). Any other query
  parameter is refused by name, so a setting is never silently ignored.
- A bounded pool: at most `max_connections` sockets; a command waits up to `pool_timeout` for one
  and then fails with `PoolBusy` (Redis may be fine, every connection is just in use).
- Every command exchange is bounded by `socket_timeout` (`RedisTimeoutError`). A connection whose
  exchange did not finish (timeout, cancellation, lost connection, unreadable reply) is closed,
  never reused: a late reply can never be read as the answer to someone else's command.
- A reused connection found dead (Redis restarted) drops every idle connection and the command is
  sent once more on a new one (`retry_on_stale`, on by default).
- `pipeline(transaction=...)` sends many commands in one round trip, wrapped in MULTI/EXEC when a
  transaction; `execute(raise_on_error=False)` leaves each failed command's error in its slot.
- `register_script(lua)` calls by SHA and loads the script when Redis answers NOSCRIPT.
- Pooled TCP sockets keep alive (a peer gone without a word is found while idle); `async with
  Redis.from_url(...) as r:` closes the client on leaving the block.
Errors: `RedisError` and its subclasses below; nothing a caller sees carries the password.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any, AsyncIterator
from urllib.parse import parse_qsl, unquote, urlsplit

import hiredis

from gemgate.redis_commands import Commands, Shape


class RedisError(Exception):
    """Any failure talking to Redis."""


class RedisConnectionError(RedisError, ConnectionError):
    """Redis could not be reached, or the connection broke during a command."""


class RedisAuthError(RedisConnectionError):
    """Redis refused the configured user or password (or the database number)."""


class RedisTimeoutError(RedisError, TimeoutError):
    """Redis did not answer within the socket timeout."""


class PoolBusy(RedisError):
    """Every pooled connection stayed busy for the whole pool wait (Redis itself may be fine)."""


class ResponseError(RedisError):
    """Redis answered the command with an error reply."""


class NoScriptError(ResponseError):
    """EVALSHA of a script Redis does not have loaded."""


class WatchError(RedisError):
    """A transaction was aborted (EXEC answered nil)."""


class DataError(RedisError, TypeError):
    """An argument of a type Redis commands cannot carry (None, bool, a dict ...)."""


def _specific(err: ResponseError) -> ResponseError:
    msg = str(err)
    return NoScriptError(msg) if msg.startswith("NOSCRIPT") else err


# ---- wire format ----
def _arg(a: Any) -> bytes:
    """An argument of a type `pack` does not encode inline (exactly str, int, bytes or float go there)."""
    if isinstance(a, bool) or a is None:
        raise DataError(f"invalid argument {a!r} for a Redis command: convert it to a string or number first")
    if isinstance(a, int):
        return str(int(a)).encode()
    if isinstance(a, float):
        return repr(float(a)).encode()
    if isinstance(a, (bytearray, memoryview)):
        return bytes(a)
    if isinstance(a, str):
        return str(a).encode()
    raise DataError(f"invalid argument of type {type(a).__name__} for a Redis command")


def pack(args: tuple | list) -> bytes:
    """One command in RESP: an array of bulk strings. The common argument types are encoded inline
    (an admission's script call has ~44 arguments: no call per argument, no formatting per bulk)."""
    out = [b"*%d\r\n" % len(args)]
    add = out.append
    for a in args:
        kind = type(a)
        if kind is str:
            b = a.encode()
        elif kind is int:
            b = b"%d" % a
        elif kind is bytes:
            b = a
        elif kind is float:
            b = repr(a).encode()
        else:
            b = _arg(a)
        add(b"$%d\r\n" % len(b))
        add(b)
        add(b"\r\n")
    return b"".join(out)


# ---- where Redis is ----
@dataclass(frozen=True)
class Endpoint:
    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # unix socket
    tls: bool = False
    username: str | None = None
    password: str | None = None
    db: int = 0

    def __repr__(self) -> str:  # never the password
        where = f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"
        return f"Endpoint({'rediss' if self.tls else 'redis'} {where} db={self.db})"

    def describe(self) -> str:
        return self.path if self.path else f"{self.host}:{self.port}"


_QUERY_NAMES = ("db", "password", "username")


def parse_url(url: str) -> Endpoint:
    """redis://[[user]:password@]host[:port][/db], rediss://..., unix:///path[?db=N]."""
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError as exc:
        raise ValueError(f"invalid Redis URL: {exc}") from None
    scheme = u.scheme.lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"invalid Redis URL scheme {u.scheme!r}: use redis://, rediss:// or unix://")
    query = dict(parse_qsl(u.query, keep_blank_values=True))
    unknown = sorted(set(query) - set(_QUERY_NAMES))
    if unknown:
        raise ValueError(f"Redis URL parameter(s) {', '.join(unknown)} not supported by gemgate "
                         f"(it understands {', '.join(_QUERY_NAMES)})")
    db_text = query.get("db") or (u.path.lstrip("/") if scheme != "unix" else "") or "0"
    try:
        db = int(db_text)
    except ValueError:
        raise ValueError(f"invalid Redis database number {db_text!r} in the Redis URL") from None
    username = unquote(u.username) if u.username else query.get("username") or None
    password = unquote(u.password) if u.password is not None else query.get("password")
    if scheme == "unix":
        if not u.path:
            raise ValueError("a unix:// Redis URL needs a socket path (unix:///run/redis.sock)")
        return Endpoint(path=u.path, username=username, password=password or None, db=db)
    return Endpoint(host=u.hostname or "127.0.0.1", port=port or 6379, tls=scheme == "rediss",
                    username=username, password=password or None, db=db)


# ---- one connection ----
class _Connection(asyncio.Protocol):
    """One socket; one exchange (a command or a pipeline's commands) at a time."""

    def __init__(self, encoding: str | None) -> None:
        self._reader = hiredis.Reader(replyError=ResponseError, encoding=encoding)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future | None = None
        self._want = 0
        self._replies: list = []
        self.closed = False

    def connection_made(self, transport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None:  # nothing asked: Redis never sends unprompted in RESP2
            self.abort()
            return
        try:
            self._reader.feed(data)
            while len(self._replies) < self._want:
                reply = self._reader.gets()
                if reply is False:
                    return
                self._replies.append(reply)
        except Exception as exc:  # a protocol error, or a reply that is not text when decoding
            self._fail(RedisConnectionError(f"unreadable reply from Redis ({type(exc).__name__})"))
            self.abort()
            return
        self._waiter = None
        if not waiter.done():
            waiter.set_result(self._replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(RedisConnectionError("connection to Redis lost"))

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    async def exchange(self, payload: bytes, n: int, timeout: float | None = None, late: str = "") -> list:
        """Send `payload`, wait for its `n` replies; RedisTimeoutError(`late`) after `timeout` s (a
        timer on the reply's future: no extra task, unlike asyncio.wait_for)."""
        if self.closed or self._transport is None or self._transport.is_closing():
            raise RedisConnectionError("connection to Redis lost")
        self._replies, self._want = [], n
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._transport.write(payload)
        if timeout is None:
            return await waiter
        timer = loop.call_later(timeout, _expire, waiter, late)
        try:
            return await waiter
        finally:
            timer.cancel()


def _expire(waiter: asyncio.Future, message: str) -> None:
    if not waiter.done():
        waiter.set_exception(RedisTimeoutError(message))


def _keepalive(conn: _Connection) -> None:
    """TCP keepalive on a pooled socket: a peer gone without a word (a dropped NAT entry, a dead host)
    is found while the socket idles, not by the next command's timeout."""
    sock = conn._transport.get_extra_info("socket") if conn._transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    except OSError:
        pass


# ---- the client ----
class Redis(Commands):
    def __init__(self, endpoint: Endpoint, *, decode_responses: bool = False, socket_timeout: float | None = 5.0,
                 socket_connect_timeout: float | None = None, max_connections: int = 64,
                 pool_timeout: float | None = None, retry_on_stale: bool = True,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.endpoint = endpoint
        self.encoding = "utf-8" if decode_responses else None
        self.socket_timeout = socket_timeout
        self.connect_timeout = socket_connect_timeout or socket_timeout
        self.pool_timeout = pool_timeout if pool_timeout is not None else (socket_timeout or 5.0)
        self.retry_on_stale = retry_on_stale
        self.max_connections = max_connections
        self._ssl_context = ssl_context
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False
        self._late = f"Redis at {endpoint.describe()} did not answer within {socket_timeout or 0:g}s"

    @classmethod
    def from_url(cls, url: str, **kw: Any) -> "Redis":
        return cls(parse_url(url), **kw)

    def __repr__(self) -> str:
        return f"Redis({self.endpoint!r})"

    # ---- connections ----
    async def _open(self) -> _Connection:
        ep, loop = self.endpoint, asyncio.get_running_loop()
        conn = _Connection(self.encoding)
        try:
            if ep.path:
                await asyncio.wait_for(loop.create_unix_connection(lambda: conn, ep.path), self.connect_timeout)
            else:
                tls = None
                if ep.tls:
                    tls = self._ssl_context or ssl.create_default_context()
                await asyncio.wait_for(loop.create_connection(lambda: conn, ep.host, ep.port, ssl=tls,
                                                              server_hostname=ep.host if tls else None),
                                       self.connect_timeout)
        except asyncio.TimeoutError:
            conn.abort()
            raise RedisTimeoutError(f"no connection to Redis at {ep.describe()} within {self.connect_timeout:g}s") \
                from None
        except OSError as exc:  # refused, unreachable, TLS handshake or certificate failure
            why = exc.strerror or str(exc) or type(exc).__name__
            raise RedisConnectionError(f"cannot connect to Redis at {ep.describe()}: {why}") from None
        _keepalive(conn)
        try:
            hello: list = []
            if ep.password:
                hello.append(("AUTH", ep.username, ep.password) if ep.username else ("AUTH", ep.password))
            if ep.db:
                hello.append(("SELECT", ep.db))
            if hello:
                replies = await self._bounded(conn, b"".join(pack(c) for c in hello), len(hello))
                for reply in replies:
                    if isinstance(reply, ResponseError):
                        # the reply names the failure (WRONGPASS, NOAUTH, DB index out of range); never the secret
                        raise RedisAuthError(f"Redis at {ep.describe()} refused the connection: {reply}")
        except BaseException:
            conn.abort()
            raise
        return conn

    def _bounded(self, conn: _Connection, payload: bytes, n: int):
        """`conn.exchange`, bounded by the socket timeout."""
        return conn.exchange(payload, n, self.socket_timeout, self._late)

    def _drop_idle(self) -> None:
        while self._idle:
            self._idle.pop().abort()

    async def _round_trip(self, payload: bytes, n: int) -> list:
        """Send `payload` (n commands) on a pooled connection and read its n replies."""
        if self._closed:
            raise RedisConnectionError("the Redis client is closed")
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: taken at once (no wait_for, no extra task)
        else:
            try:
                await asyncio.wait_for(self._slots.acquire(), self.pool_timeout)
            except asyncio.TimeoutError:
                raise PoolBusy(f"no Redis connection became free within {self.pool_timeout:g}s") from None
        try:
            for attempt in range(2):
                conn = None
                while self._idle and conn is None:
                    c = self._idle.pop()
                    conn = None if c.closed else c
                reused = conn is not None
                if conn is None:
                    conn = await self._open()
                try:
                    replies = await self._bounded(conn, payload, n)
                except RedisConnectionError:
                    conn.abort()
                    if reused and attempt == 0 and self.retry_on_stale:
                        self._drop_idle()  # Redis restarted: the other pooled sockets are stale too
                        continue
                    raise
                except BaseException:  # timeout, cancellation: the reply may still come; never reuse
                    conn.abort()
                    raise
                if self._closed:
                    conn.abort()
                else:
                    self._idle.append(conn)
                return replies
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._slots.release()

    async def _run(self, args: tuple, shape: Shape) -> Any:
        (reply,) = await self._round_trip(pack(args), 1)
        if isinstance(reply, ResponseError):
            raise _specific(reply)
        return shape(reply) if shape is not None else reply

    def _cmd(self, args: tuple, shape: Shape = None):
        return self._run(args, shape)

    async def execute_command(self, *args: Any) -> Any:
        return await self._run(args, None)

    def pipeline(self, transaction: bool = True) -> "Pipeline":
        return Pipeline(self, transaction)

    def register_script(self, script: str) -> "Script":
        return Script(self, script)

    async def scan_iter(self, match: str | None = None, count: int | None = None) -> AsyncIterator[Any]:
        cursor: Any = "0"
        while True:
            args: list = ["SCAN", cursor]
            if match is not None:
                args += ["MATCH", match]
            if count is not None:
                args += ["COUNT", int(count)]
            cursor, keys = await self._run(tuple(args), None)
            for key in keys:
                yield key
            if cursor in ("0", b"0"):
                return

    async def aclose(self) -> None:
        self._closed = True
        self._drop_idle()

    async def __aenter__(self) -> "Redis":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class Pipeline(Commands):
    """Commands queued, then sent in one round trip by `execute()` (MULTI/EXEC when a transaction)."""

    def __init__(self, client: Redis, transaction: bool) -> None:
        self.client = client
        self.transaction = transaction
        self._queued: list[tuple[bytes, Shape]] = []

    def _cmd(self, args: tuple, shape: Shape = None) -> "Pipeline":
        self._queued.append((pack(args), shape))  # packed now: a bad argument fails where it was queued
        return self

    def __len__(self) -> int:
        return len(self._queued)

    async def __aenter__(self) -> "Pipeline":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._queued = []

    async def execute(self, raise_on_error: bool = True) -> list:
        queued, self._queued = self._queued, []
        if not queued:
            return []
        body = b"".join(packed for packed, _ in queued)
        if self.transaction:
            replies = await self.client._round_trip(b"*1\r\n$5\r\nMULTI\r\n" + body + b"*1\r\n$4\r\nEXEC\r\n",
                                                    len(queued) + 2)
            results = replies[-1]
            if isinstance(results, ResponseError):  # EXECABORT: a command was refused when queued
                queue_errors = [r for r in replies[1:-1] if isinstance(r, ResponseError)]
                raise _specific(queue_errors[0] if queue_errors else results)
            if results is None:
                raise WatchError("transaction aborted")
        else:
            results = await self.client._round_trip(body, len(queued))
        out, first_error = [], None
        for (_, shape), reply in zip(queued, results):
            if isinstance(reply, ResponseError):
                reply = _specific(reply)
                first_error = first_error or reply
            elif shape is not None:
                reply = shape(reply)
            out.append(reply)
        if first_error is not None and raise_on_error:
            raise first_error
        return out


class Script:
    """A Lua script called by SHA1; loaded into Redis when Redis does not know it (NOSCRIPT)."""

    def __init__(self, client: Redis, script: str) -> None:
        self.client = client
        self.script = script
        self.sha = hashlib.sha1(script.encode()).hexdigest()

    async def __call__(self, keys: list | tuple = (), args: list | tuple = ()) -> Any:
        try:
            return await self.client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.client.script_load(self.script)
            return await self.client.evalsha(self.sha, len(keys), *keys, *args)
