"""router_service/providers/upstream_http.py against real local servers: keep-alive and the pool's
limit, when a connection is not reused, cancellation, stale connections, timeouts, TLS, IPv6 and
read pausing for a slow stream reader."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

import pytest

from router_service.providers.upstream_http import UpstreamClient, UpstreamTimeout, UpstreamTransportError
from tests.service.upstream_servers import RawServer, chunked, dribble, head, reply, self_signed


@pytest.fixture
async def client():
    c = UpstreamClient()
    yield c
    await c.aclose()


async def ok(req, w):
    w.write(reply(b'{"ok": true}'))


async def wait_for(predicate, seconds: float = 3.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


# ---- keep-alive ----

async def test_sequential_requests_reuse_one_connection(client):
    async def respond(req, w):
        if req.head.startswith(b"GET"):
            w.write(head("200 OK", "transfer-encoding: chunked") + chunked(b"data: 1\n\n", b"data: 2\n\n"))
        else:
            w.write(reply(b'{"ok": true}'))

    async with RawServer(respond) as srv:
        for _ in range(3):
            assert (await client.post(srv.url, json={}, timeout=5)).json() == {"ok": True}
        async with client.stream("GET", srv.url, timeout=5) as s:
            assert [x async for x in s.aiter_lines()] == ["data: 1", "", "data: 2", ""]
        async with client.stream("POST", srv.url, json={}, timeout=5) as s:
            await s.aread()
        await client.post(srv.url, json={}, timeout=5)
        assert len(srv.requests) == 6 and srv.connections == 1 and client.open_connections == 1


@pytest.mark.parametrize("wire", [reply(b"bye", "connection: close"), reply(b"old", version="HTTP/1.0"),
                                  reply(b"old", "connection: keep-alive", version="HTTP/1.0")],
                         ids=["connection-close", "http-1.0", "http-1.0-keep-alive"])
async def test_replies_that_end_the_connection_are_not_reused(client, wire):
    async def respond(req, w):
        w.write(wire)  # and the server keeps the connection open: only the client can decide

    async with RawServer(respond) as srv:
        for _ in range(3):
            r = await client.post(srv.url, json={}, timeout=5)
            assert r.status_code == 200
        assert srv.connections == 3 and client.open_connections == 0
        await wait_for(lambda: srv.closed == 3)  # each one closed by the client


async def test_a_stream_left_before_its_end_is_closed_and_the_next_request_works(client):
    async def respond(req, w):
        if req.head.startswith(b"POST /stream"):
            w.write(head("200 OK", "transfer-encoding: chunked") + chunked(b"data: 1\n\n", last=False))
            await w.drain()
            await asyncio.sleep(1)
            w.write(chunked(b"data: 2\n\n"))
        else:
            w.write(reply(b"fine"))

    async with RawServer(respond) as srv:
        async with client.stream("POST", srv.url + "/stream", json={}, timeout=5) as s:
            async for line in s.aiter_lines():
                assert line == "data: 1"
                break
        assert client.open_connections == 0
        await wait_for(lambda: srv.closed == 1)
        assert (await client.post(srv.url, json={}, timeout=5)).content == b"fine"
        assert srv.connections == 2


async def test_an_idle_connection_is_closed_after_keepalive():
    c = UpstreamClient(keepalive=0.2)
    try:
        async with RawServer(ok) as srv:
            await c.post(srv.url, json={}, timeout=5)
            await asyncio.sleep(0.1)
            await c.post(srv.url, json={}, timeout=5)  # still idle for less than keepalive: reused
            assert srv.connections == 1 and c.open_connections == 1
            await wait_for(lambda: srv.closed == 1)  # idle 0.2 s: closed by the client
            assert c.open_connections == 0
            await c.post(srv.url, json={}, timeout=5)
            assert srv.connections == 2
    finally:
        await c.aclose()


async def test_a_connection_the_server_closes_while_idle_is_not_used(client):
    async def respond(req, w):
        w.write(reply(b"one"))
        await w.drain()
        w.close()  # keep-alive reply, then closed anyway

    async with RawServer(respond) as srv:
        await client.post(srv.url, json={}, timeout=5)
        await wait_for(lambda: client.open_connections == 0)  # the client saw the close
        assert (await client.post(srv.url, json={}, timeout=5)).content == b"one"
        assert len(srv.requests) == 2 and srv.connections == 2


# ---- the pool's limit ----

async def test_the_pool_limit_holds_and_waiters_are_served():
    c = UpstreamClient(limit=2)

    async def slow(req, w):
        await asyncio.sleep(0.1)
        w.write(reply(req.body))

    try:
        async with RawServer(slow) as srv:
            replies = await asyncio.gather(*(c.post(srv.url, json={"n": i}, timeout=5) for i in range(5)))
            assert [r.json() for r in replies] == [{"n": i} for i in range(5)]
            assert srv.most_open == 2 and srv.connections == 2 and c.open_connections == 2
    finally:
        await c.aclose()


async def test_at_the_limit_an_idle_connection_to_another_host_makes_room():
    c = UpstreamClient(limit=1)
    try:
        async with RawServer(ok) as one, RawServer(ok) as two:
            await c.post(one.url, json={}, timeout=5)
            await asyncio.wait_for(c.post(two.url, json={}, timeout=5), 3)  # not held up until one's keepalive ends
            await wait_for(lambda: one.closed == 1)
            assert c.open_connections == 1
    finally:
        await c.aclose()


@contextlib.asynccontextmanager
async def one_slot_held():
    """(client, server, holder, gate): a client whose pool holds one connection, taken by `holder`,
    a request the server answers once `gate` is set; every other request is answered at once."""
    c = UpstreamClient(limit=1)
    gate = asyncio.Event()

    async def respond(req, w):
        if req.head.startswith(b"POST /hold"):
            await gate.wait()
        w.write(reply(b"done"))

    try:
        async with RawServer(respond) as srv:
            holder = asyncio.ensure_future(c.post(srv.url + "/hold", json={}, timeout=10))
            await wait_for(lambda: len(srv.requests) == 1)
            yield c, srv, holder, gate
    finally:
        await c.aclose()


async def test_waiting_for_a_pool_slot_ends_at_the_timeout_and_the_queue_goes_on():
    async with one_slot_held() as (c, srv, holder, gate):
        patient = asyncio.ensure_future(c.post(srv.url, json={}, timeout=10))
        await asyncio.sleep(0.02)
        t0 = asyncio.get_running_loop().time()
        with pytest.raises(UpstreamTimeout):
            await c.post(srv.url, json={}, timeout=0.2)  # queued behind the holder: gives up in time
        assert 0.15 < asyncio.get_running_loop().time() - t0 < 2
        assert not patient.done() and len(srv.requests) == 1
        gate.set()
        assert (await holder).content == b"done" and (await patient).content == b"done"
        assert c.open_connections == 1 and srv.connections == 1


# ---- cancellation, stale connections ----

async def test_cancelling_a_request_mid_reply_closes_its_connection(client):
    replying = asyncio.Event()

    async def respond(req, w):
        if req.head.startswith(b"POST /slow"):
            w.write(head("200 OK", "content-length: 100") + b"part")
            await w.drain()
            replying.set()
            assert await asyncio.wait_for(req.reader.read(), 5) == b""  # until the client closes
        else:
            w.write(reply(b"fine"))

    async with RawServer(respond) as srv:
        tasks_before = asyncio.all_tasks()
        for call in ("post", "stream"):
            replying.clear()
            if call == "post":
                task = asyncio.ensure_future(client.post(srv.url + "/slow", json={}, timeout=10))
            else:
                async def read_stream():
                    async with client.stream("POST", srv.url + "/slow", json={}, timeout=10) as s:
                        await s.aread()
                task = asyncio.ensure_future(read_stream())
            await asyncio.wait_for(replying.wait(), 3)
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client.open_connections == 0
        await wait_for(lambda: srv.closed == 2)  # both connections closed by the client
        assert (await client.post(srv.url, json={}, timeout=5)).content == b"fine"
        assert srv.connections == 3 and client.open_connections == 1
        leftover = {t for t in asyncio.all_tasks() - tasks_before if not t.get_coro().__name__ == "_handle"}
        assert leftover == set()  # the client started no task of its own


async def test_cancelling_a_request_waiting_for_the_pool_frees_nothing_twice():
    async with one_slot_held() as (c, srv, holder, gate):
        waiter = asyncio.ensure_future(c.post(srv.url, json={}, timeout=10))
        later = asyncio.ensure_future(c.post(srv.url, json={}, timeout=10))
        await asyncio.sleep(0.05)
        waiter.cancel()
        gate.set()
        assert (await holder).content == b"done" and (await later).content == b"done"
        assert waiter.cancelled() and c.open_connections == 1 and srv.connections == 1


async def test_a_fresh_connections_failure_is_not_retried(client):
    async def respond(req, w):
        w.transport.abort()  # the request arrived; the connection dies without a reply

    async with RawServer(respond) as srv:
        with pytest.raises(UpstreamTransportError) as exc:
            await client.post(srv.url, json={}, timeout=5)
        assert not isinstance(exc.value, UpstreamTimeout)
        assert len(srv.requests) == 1  # not sent again: it may have been acted on


async def test_a_reused_connection_failing_after_reply_bytes_is_not_retried(client):
    async def respond(req, w):
        if req.conn == 1 and len(srv.requests) == 2:
            w.write(b"HTTP/1.1 200")
            await w.drain()
            w.transport.abort()
        else:
            w.write(reply(b"ok"))

    async with RawServer(respond) as srv:
        await client.post(srv.url, json={}, timeout=5)
        with pytest.raises(UpstreamTransportError):
            await client.post(srv.url, json={}, timeout=5)
        assert len(srv.requests) == 2


# ---- timeouts ----

async def test_the_read_timeout_is_per_wait_between_bytes(client):
    async def respond(req, w):
        body = b"x" * 10
        if req.head.startswith(b"POST /stall"):
            w.write(head("200 OK", "content-length: 10") + body[:3])
            await w.drain()
            await asyncio.sleep(3)
        else:  # ten pieces 0.1 s apart: a second in all, never 0.3 s without a byte
            await dribble(w, reply(body), [5, 10, 15, 20, 25, 30, 35, 40, 45], pause=0.1)

    async with RawServer(respond) as srv:
        assert (await client.post(srv.url + "/slowly", json={}, timeout=30)).content == b"x" * 10
        with pytest.raises(UpstreamTimeout):  # same connection, a shorter timeout than the last request's
            await asyncio.wait_for(client.post(srv.url + "/stall", json={}, timeout=0.3), 2)
        assert (await client.post(srv.url + "/slowly", json={}, timeout=0.4)).content == b"x" * 10
        async with client.stream("POST", srv.url + "/slowly", json={}, timeout=0.4) as s:
            assert await s.aread() == b"x" * 10
        with pytest.raises(UpstreamTimeout):
            await client.post(srv.url + "/stall", json={}, timeout=0.3)
        with pytest.raises(UpstreamTimeout):
            async with client.stream("POST", srv.url + "/stall", json={}, timeout=0.3) as s:
                await s.aread()
        assert client.open_connections == 0 and srv.connections == 3  # a timed-out connection is closed


async def test_connect_timeout_on_a_full_listen_backlog():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # never accepted: once its queue is full, new SYNs are dropped
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    c = UpstreamClient()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UpstreamTimeout):
            await c.post(f"http://127.0.0.1:{port}/x", json={}, timeout=0.3)
        assert loop.time() - started < 2 and c.open_connections == 0
    finally:
        await c.aclose()
        for s in [listener, *fillers]:
            s.close()


# ---- TLS, IPv6 ----

async def test_tls_with_a_self_signed_certificate(tmp_path):
    server_ctx, client_ctx = self_signed(tmp_path)
    trusting, default = UpstreamClient(ssl_context=client_ctx), UpstreamClient()
    try:
        async with RawServer(ok, ssl=server_ctx) as srv:
            assert srv.url.startswith("https://127.0.0.1:")
            for _ in range(2):
                r = await trusting.post(srv.url + "/x", json={"a": 1}, timeout=5)
                assert r.json() == {"ok": True}
            assert srv.connections == 1 and srv.requests[0].header("host") == srv.url[len("https://"):]
            with pytest.raises(UpstreamTransportError) as exc:
                await default.post(srv.url + "/x", json={}, timeout=5)  # not trusted by the system's CAs
            assert not isinstance(exc.value, UpstreamTimeout) and "CertVerification" in str(exc.value)
            assert default.open_connections == 0
    finally:
        await trusting.aclose()
        await default.aclose()


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback")
async def test_an_ipv6_literal_host(client):
    async with RawServer(ok, host="::1") as srv:
        assert srv.url.startswith("http://[::1]:")
        assert (await client.post(srv.url + "/x", json={}, timeout=5)).json() == {"ok": True}
        assert srv.requests[0].header("host") == srv.url[len("http://"):]


# ---- a slow stream reader ----

async def test_reading_pauses_while_a_stream_reader_lags(client):
    """The server can push only what the socket buffers hold plus the client's ~1 MiB while the
    reader does not read; everything still arrives once it does."""
    piece = b"y" * 65535 + b"\n"
    total = 40 * len(piece) * 16  # 40 MiB
    sent = [0]

    async def respond(req, w):
        w.write(head("200 OK", f"content-length: {total}"))
        while sent[0] < total:
            w.write(piece * 16)
            sent[0] += len(piece) * 16
            await w.drain()

    async with RawServer(respond) as srv:
        async with client.stream("POST", srv.url, json={}, timeout=10) as s:
            lines = s.aiter_lines()
            assert len(await lines.__anext__()) == 65535
            await asyncio.sleep(0.5)
            stalled_at = sent[0]
            await asyncio.sleep(0.3)
            assert sent[0] == stalled_at < total / 2  # the server is blocked: the client stopped reading
            count = 1 + sum([1 async for _ in lines])
        assert count == total // len(piece) and srv.connections == 1
