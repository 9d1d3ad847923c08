"""Keep-alive pool of Http1Connections per (scheme, host, port): idle connections are reused last in,
first out and closed after `keepalive` seconds idle; at most `limit` connections are open in all
(callers beyond it queue, first come first served, each at most its timeout; an idle connection to
another host is closed to make room). A connection comes back only through release(conn, reusable)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from router_service.providers.http1_connection import Http1Connection, UpstreamTimeout

Key = tuple[str, str, int]


class ConnectionPool:
    def __init__(self, limit: int, keepalive: float,
                 connect: Callable[[Key, Http1Connection, float | None], Awaitable[None]]) -> None:
        self._limit, self._keepalive, self._connect = limit, keepalive, connect
        self._idle: dict[Key, list[Http1Connection]] = {}
        self._all: set[Http1Connection] = set()
        self._open = 0  # slots held: connections open or being opened
        self._waiters: deque[asyncio.Future] = deque()

    @property
    def open_connections(self) -> int:
        return self._open

    async def acquire(self, key: Key, timeout: float | None, *, fresh: bool = False) -> Http1Connection:
        """The last idle connection to `key` (marked reused), unless `fresh`; else a new one, once
        fewer than `limit` connections are open. Waiting for that takes at most `timeout` seconds
        (then UpstreamTimeout("pool")); connecting has a `timeout` of its own."""
        woken = False
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        while True:
            idle = None if fresh else self._idle.get(key)
            while idle:
                conn = idle.pop()
                conn.idle = False
                if not conn.closed and not conn.transport.is_closing():
                    conn.reused = True
                    return conn
            if self._open < self._limit or self._evict_idle():
                return await self._new(key, timeout)
            try:
                async with asyncio.timeout_at(deadline):
                    await self._wait_turn(front=woken)
            except TimeoutError:
                raise UpstreamTimeout("pool") from None
            woken = True

    async def _new(self, key: Key, timeout: float | None) -> Http1Connection:
        conn = Http1Connection(key, self._gone)
        conn.holds_slot = True
        self._open += 1
        self._all.add(conn)
        try:
            await self._connect(key, conn, timeout)
        except BaseException:
            conn.close()
            self._gone(conn)
            raise
        return conn

    def release(self, conn: Http1Connection, reusable: bool) -> None:
        if reusable and not conn.closed:
            conn.idle, conn.idle_since = True, conn._loop.time()
            self._idle.setdefault(conn.key, []).append(conn)
            if conn.idle_timer is None:
                conn.idle_timer = conn._loop.call_at(conn.idle_since + self._keepalive, self._expire, conn)
            self._wake_one()
        else:
            conn.close()
            self._gone(conn)

    def _expire(self, conn: Http1Connection) -> None:
        conn.idle_timer = None
        if not conn.idle:
            return  # in use; armed again when it comes back
        due = conn.idle_since + self._keepalive
        if conn._loop.time() < due:  # it was used and came back since this timer was set
            conn.idle_timer = conn._loop.call_at(due, self._expire, conn)
            return
        self._drop_idle(conn)

    def _evict_idle(self) -> bool:
        """At the limit: close the longest-idle connection of any host to make room."""
        oldest = None
        for conns in self._idle.values():
            if conns and (oldest is None or conns[0].idle_since < oldest.idle_since):
                oldest = conns[0]
        if oldest is None:
            return False
        self._drop_idle(oldest)
        return True

    def _drop_idle(self, conn: Http1Connection) -> None:
        conn.transport.close()  # an idle connection has nothing in flight: a clean close
        conn.closed = True
        self._gone(conn)

    def _gone(self, conn: Http1Connection) -> None:
        """The connection is closed (by either side): forget it and free its slot, once."""
        if conn.idle:
            conn.idle = False
            self._idle[conn.key].remove(conn)
        if conn.idle_timer is not None:
            conn.idle_timer.cancel()
            conn.idle_timer = None
        if conn.holds_slot:
            conn.holds_slot = False
            self._open -= 1
            self._all.discard(conn)
            self._wake_one()

    async def _wait_turn(self, front: bool) -> None:
        fut = asyncio.get_running_loop().create_future()
        self._waiters.appendleft(fut) if front else self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # woken, then cancelled: pass the turn on
                self._wake_one()
            raise
        finally:
            if not fut.done():
                self._waiters.remove(fut)

    def _wake_one(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def close_all(self) -> None:
        for conn in list(self._all):
            if conn.idle:
                self._drop_idle(conn)
            else:
                conn.close()
                self._gone(conn)
