"""Opening a TCP connection to an upstream host the way RFC 8305 ("Happy Eyeballs") asks: resolve
the name, interleave its IPv6 and IPv4 addresses, start on the first and, if it has not connected
within `delay`, start the next one too (and so on); the first to connect wins, the others are
closed. A broken address family (an IPv6 route that swallows packets, say) then costs `delay`, not
the whole connect timeout. uvloop's create_connection has no such option, so the race runs on plain
non-blocking sockets here and the winner is handed to the loop (TLS is added there).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

HAPPY_EYEBALLS_DELAY = 0.25  # seconds, as RFC 8305 recommends

Address = tuple[int, tuple]  # (family, sockaddr)


def interleave(infos: Sequence[tuple]) -> list[Address]:
    """getaddrinfo results -> addresses alternating between families, the first family first."""
    by_family: dict[int, list[Address]] = {}
    for family, _type, _proto, _name, sockaddr in infos:
        by_family.setdefault(family, []).append((family, sockaddr))
    groups = list(by_family.values())
    out: list[Address] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out += [g[i] for g in groups if i < len(g)]
    return out


async def _connect_one(loop: asyncio.AbstractEventLoop, address: Address) -> socket.socket:
    family, sockaddr = address
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


async def connect_first(addresses: Sequence[Address], delay: float = HAPPY_EYEBALLS_DELAY) -> socket.socket:
    """A connected socket to the first of `addresses` that answers (staggered attempts); raises the
    first attempt's OSError when none connects. Cancelling it (the caller's timeout) closes every
    attempt."""
    if not addresses:
        raise OSError("no address to connect to")
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task] = set()
    errors: list[BaseException] = []
    winner: socket.socket | None = None
    queue = list(addresses)
    try:
        while winner is None and (queue or pending):
            if queue:
                pending.add(loop.create_task(_connect_one(loop, queue.pop(0))))
            done, pending = await asyncio.wait(pending, timeout=delay if queue else None,
                                               return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None:
                    errors.append(task.exception())
                elif winner is None:
                    winner = task.result()
                else:  # two connected at once: keep one
                    task.result().close()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            # let the cancelled attempts close their sockets; one that connected meanwhile is closed here
            for task in (await asyncio.wait(pending))[0]:
                if not task.cancelled() and task.exception() is None:
                    task.result().close()
    if winner is None:
        raise errors[0] if errors else OSError("could not connect")
    return winner


async def dial(host: str, port: int, delay: float = HAPPY_EYEBALLS_DELAY) -> socket.socket:
    """A connected TCP socket to `host`:`port` (name resolved here, addresses raced)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return await connect_first(interleave(infos), delay)
