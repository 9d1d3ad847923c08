"""router_service/providers/upstream_http.py (the router's aiohttp client) against real local
servers: replies, timeouts, refused connections, cut and very long stream lines."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from router_service.providers.upstream_http import UpstreamClient, UpstreamTimeout, UpstreamTransportError


async def serve(respond):
    """A raw HTTP/1.1 server; `respond(body_bytes, writer)` writes the reply (or hangs)."""
    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        body = await reader.readexactly(length) if length else b""
        await respond(head, body, writer)
        try:
            await writer.drain()
            writer.close()
        except ConnectionError:
            pass

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"


@pytest.fixture
async def client():
    c = UpstreamClient()
    yield c
    await c.aclose()


async def test_post_sends_json_and_reads_reply(client):
    seen = {}

    async def respond(head, body, w):
        seen["head"], seen["body"] = head.decode(), body
        out = b'{"ok": true, "n": 12345678901234567890123}'
        w.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(out) + out)

    srv, url = await serve(respond)
    try:
        big = 2 ** 70  # beyond orjson's integers: still encoded
        r = await client.post(url + "/x", json={"a": "é", "big": big}, headers={"x-goog-api-key": "k"}, timeout=5)
        assert r.status_code == 200 and r.content.startswith(b'{"ok"')
        assert json.loads(seen["body"]) == {"a": "é", "big": big}
        assert "x-goog-api-key: k" in seen["head"].lower() and "application/json" in seen["head"].lower()
    finally:
        srv.close()


async def test_refused_and_timeout_are_transport_errors(client):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, not listening
    try:
        with pytest.raises(UpstreamTransportError) as exc:
            await client.post(f"http://127.0.0.1:{s.getsockname()[1]}/x", json={}, timeout=2)
        assert not isinstance(exc.value, UpstreamTimeout)
    finally:
        s.close()

    async def hang(head, body, w):
        await asyncio.sleep(5)

    srv, url = await serve(hang)
    try:
        with pytest.raises(UpstreamTimeout):
            await client.post(url, json={}, timeout=0.3)
    finally:
        srv.close()


async def test_stream_lines_of_any_length_and_a_cut_stream(client):
    line = "data: " + "x" * 300_000  # one event line far above aiohttp's own line limit

    async def respond(head, body, w):
        w.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        payload = (line + "\r\n\r\ndata: two\r\n\r\n").encode()
        for i in range(0, len(payload), 7000):
            part = payload[i:i + 7000]
            w.write(b"%x\r\n" % len(part) + part + b"\r\n")
            await w.drain()
        w.write(b"0\r\n\r\n")

    srv, url = await serve(respond)
    try:
        async with client.stream("POST", url, json={}, timeout=5) as r:
            assert r.status_code == 200
            lines = [x async for x in r.aiter_lines()]
        assert [x.rstrip("\r") for x in lines] == [line, "", "data: two", ""]
    finally:
        srv.close()

    async def cut(head, body, w):
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\ndata:\r\n")
        await w.drain()
        w.transport.abort()  # the connection dies mid-stream

    srv, url = await serve(cut)
    try:
        with pytest.raises(UpstreamTransportError):
            async with client.stream("POST", url, json={}, timeout=5) as r:
                async for _ in r.aiter_lines():
                    pass
    finally:
        srv.close()


async def test_a_reused_connection_the_upstream_closed_is_sent_again(client):
    """The keep-alive race: the upstream closes an idle connection just as the next request goes out
    on it (no reply byte). The request is sent again on another connection instead of failing."""
    served = []

    async def handle(reader, writer):
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length"))
                await reader.readexactly(length)
                n += 1
                if n == 2:  # second request on this connection: gone without a word
                    writer.transport.abort()
                    return
                served.append(n)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nkeep-alive: timeout=60\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/x"
    try:
        for _ in range(4):
            r = await client.post(url, json={"a": 1}, timeout=5)
            assert r.status_code == 200 and r.content == b"ok"
        assert len(served) == 4  # every request answered, each stale reuse sent again
    finally:
        srv.close()
