"""router_service/providers/http1_dial.py: the IPv6/IPv4 race (RFC 8305) against real local sockets.
An address that swallows the connection attempt is a listener whose accept queue is full (Linux
drops the SYN: the attempt hangs), like a route that loses packets."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

from router_service.providers import http1_dial
from router_service.providers.http1_dial import connect_first, dial, interleave
from router_service.providers.upstream_http import UpstreamClient, UpstreamTimeout
from tests.service.upstream_servers import RawServer, reply


@pytest.fixture
def blackhole():
    """(family, sockaddr) where a connection attempt hangs: its listener's queue is full."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname(), timeout=2)  # takes the one queue slot
    yield (socket.AF_INET, listener.getsockname())
    filler.close()
    listener.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_interleave_alternates_families_first_family_first():
    v6 = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (f"::{i}", 443, 0, 0)) for i in (1, 2, 3)]
    v4 = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (f"10.0.0.{i}", 443)) for i in (1, 2)]
    got = [addr[0] for _, addr in interleave([*v6, *v4])]
    assert got == ["::1", "10.0.0.1", "::2", "10.0.0.2", "::3"]
    assert interleave([]) == []


async def test_a_hanging_first_address_costs_the_delay_not_the_timeout(blackhole):
    async with RawServer(lambda req, w: None) as srv:
        good = (socket.AF_INET, ("127.0.0.1", int(srv.url.rsplit(":", 1)[1])))
        t0 = time.monotonic()
        sock = await asyncio.wait_for(connect_first([blackhole, good], delay=0.2), 3)
        took = time.monotonic() - t0
        try:
            assert sock.getpeername() == good[1]
            assert 0.15 < took < 1.5, took  # the second attempt started after the delay, and won
        finally:
            sock.close()


async def test_a_refused_address_moves_on_at_once():
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))  # bound, not listening: connecting is refused
    try:
        async with RawServer(lambda req, w: None) as srv:
            good = (socket.AF_INET, ("127.0.0.1", int(srv.url.rsplit(":", 1)[1])))
            t0 = time.monotonic()
            sock = await connect_first([(socket.AF_INET, refused.getsockname()), good], delay=5)
            sock.close()
            assert time.monotonic() - t0 < 1  # not the 5 s delay: a failed attempt starts the next now
            with pytest.raises(ConnectionRefusedError):
                await connect_first([(socket.AF_INET, refused.getsockname())])
    finally:
        refused.close()


async def test_a_timeout_closes_every_attempt(blackhole):
    before = open_fds()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await connect_first([blackhole, blackhole, blackhole], delay=0.05)
    assert open_fds() == before  # no attempt's socket is left open


async def test_the_client_connects_by_name_and_a_hanging_address_is_a_connect_timeout(blackhole, monkeypatch):
    async with RawServer(lambda req, w: w.write(reply(b"hi"))) as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        sock = await dial("localhost", port)  # real name resolution
        sock.close()
        c = UpstreamClient()
        try:
            assert (await c.post(f"http://localhost:{port}/", json={}, timeout=5)).content == b"hi"

            async def only_blackhole(host, port, delay=http1_dial.HAPPY_EYEBALLS_DELAY):
                return await connect_first([blackhole], delay)

            monkeypatch.setattr("router_service.providers.upstream_http.dial", only_blackhole)
            t0 = time.monotonic()
            with pytest.raises(UpstreamTimeout):
                await c.post(f"http://127.0.0.2:{port}/", json={}, timeout=0.5)
            assert time.monotonic() - t0 < 2
        finally:
            await c.aclose()
