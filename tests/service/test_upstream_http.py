"""router_service/providers/upstream_http.py (the router's own HTTP/1.1 client) against real local
servers: replies, timeouts, refused connections, cut and very long stream lines; reply framing
(chunked, until close, cut, garbage), compression and the request's head. Pooling, keep-alive, TLS
and cancellation: test_upstream_http_pool.py."""

from __future__ import annotations

import asyncio
import json
import socket
import zlib

import pytest

from router_service.providers import http1_connection, upstream_http
from router_service.providers.upstream_http import UpstreamClient, UpstreamTimeout, UpstreamTransportError
from tests.service.upstream_servers import RawServer, chunked, compress, dribble, head, reply


@pytest.fixture
async def client():
    c = UpstreamClient()
    yield c
    await c.aclose()


async def test_post_sends_json_and_reads_reply(client):
    seen = {}

    async def respond(req, w):
        seen["head"], seen["body"] = req.head.decode(), req.body
        out = b'{"ok": true, "n": 12345678901234567890123}'
        w.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(out) + out)

    async with RawServer(respond) as srv:
        big = 2 ** 70  # beyond orjson's integers: still encoded
        r = await client.post(srv.url + "/x", json={"a": "é", "big": big}, headers={"x-goog-api-key": "k"}, timeout=5)
        assert r.status_code == 200 and r.content.startswith(b'{"ok"')
        assert json.loads(seen["body"]) == {"a": "é", "big": big}
        assert "x-goog-api-key: k" in seen["head"].lower() and "application/json" in seen["head"].lower()


async def test_refused_and_timeout_are_transport_errors(client):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, not listening
    try:
        with pytest.raises(UpstreamTransportError) as exc:
            await client.post(f"http://127.0.0.1:{s.getsockname()[1]}/x", json={}, timeout=2)
        assert not isinstance(exc.value, UpstreamTimeout)
    finally:
        s.close()

    async def hang(req, w):
        await asyncio.sleep(5)

    async with RawServer(hang) as srv:
        with pytest.raises(UpstreamTimeout):
            await client.post(srv.url, json={}, timeout=0.3)


async def test_stream_lines_of_any_length_and_a_cut_stream(client):
    line = "data: " + "x" * 300_000  # one event line far above usual line limits (aiohttp's was 128 KiB)

    async def respond(req, w):
        w.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        payload = (line + "\r\n\r\ndata: two\r\n\r\n").encode()
        for i in range(0, len(payload), 7000):
            part = payload[i:i + 7000]
            w.write(b"%x\r\n" % len(part) + part + b"\r\n")
            await w.drain()
        w.write(b"0\r\n\r\n")

    async with RawServer(respond) as srv:
        async with client.stream("POST", srv.url, json={}, timeout=5) as r:
            assert r.status_code == 200
            lines = [x async for x in r.aiter_lines()]
        assert [x.rstrip("\r") for x in lines] == [line, "", "data: two", ""]

    async def cut(req, w):
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\ndata:\r\n")
        await w.drain()
        w.transport.abort()  # the connection dies mid-stream

    async with RawServer(cut) as srv:
        with pytest.raises(UpstreamTransportError):
            async with client.stream("POST", srv.url, json={}, timeout=5) as r:
                async for _ in r.aiter_lines():
                    pass


async def test_a_reused_connection_the_upstream_closed_is_sent_again(client):
    """The keep-alive race: the upstream closes an idle connection just as the next request goes out
    on it (no reply byte). The request is sent again on another connection instead of failing."""
    served = []

    async def respond(req, w):
        if sum(r.conn == req.conn for r in srv.requests) == 2:  # second request on this connection:
            w.transport.abort()                                  # gone without a word
            return
        served.append(req.conn)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nkeep-alive: timeout=60\r\n\r\nok")

    async with RawServer(respond) as srv:
        for _ in range(4):
            r = await client.post(srv.url + "/x", json={"a": 1}, timeout=5)
            assert r.status_code == 200 and r.content == b"ok"
        assert len(served) == 4  # every request answered, each stale reuse sent again


# ---- the request head ----

async def test_request_head_defaults_and_the_callers_own(client):
    async def respond(req, w):
        w.write(reply(b"{}"))

    async with RawServer(respond) as srv:
        await client.post(srv.url + "/v1/m:gen?alt=sse", json={"a": 1}, headers={"X-Goog-Api-Key": "k"}, timeout=5)
        async with client.stream("GET", srv.url + "/models/a b", headers={"Accept-Encoding": "identity",
                                                                      "User-Agent": "mine", "content-length": "99"},
                                 timeout=5) as r:
            await r.aread()
        posted, got = srv.requests
        port = srv.url.rsplit(":", 1)[1]
        assert posted.head.startswith(b"POST /v1/m:gen?alt=sse HTTP/1.1\r\n")
        assert posted.header("host") == f"127.0.0.1:{port}" and posted.header("x-goog-api-key") == "k"
        assert posted.header("content-type") == "application/json" and posted.header("content-length") == "7"
        assert posted.header("accept-encoding") == "gzip, deflate" and posted.header("user-agent") == "gemgate"
        assert got.head.startswith(b"GET /models/a%20b HTTP/1.1\r\n")  # unsafe characters percent-encoded
        assert got.header("accept-encoding") == "identity" and got.header("user-agent") == "mine"
        assert got.header("content-length") is None and got.body == b""  # framing is the client's own
        assert got.head.lower().count(b"user-agent") == 1


async def test_a_header_value_with_a_line_break_is_refused(client):
    with pytest.raises(ValueError):
        await client.post("http://127.0.0.1:9/x", json={}, headers={"x-a": "v\r\nx-injected: 1"}, timeout=1)


async def test_reply_headers_are_case_insensitive_and_redirects_are_not_followed(client):
    async def respond(req, w):
        w.write(reply(b"moved", "Location: /elsewhere", "X-Multi: a", "x-multi: b", status="302 Found"))

    async with RawServer(respond) as srv:
        r = await client.post(srv.url + "/x", json={}, timeout=5)
        assert r.status_code == 302 and r.content == b"moved" and len(srv.requests) == 1
        assert r.headers.get("Location") == r.headers.get("location") == r.headers["LOCATION"] == "/elsewhere"
        assert r.headers.get("x-multi") == "a, b" and "X-MULTI" in r.headers and r.headers.get("nope") is None


async def test_an_interim_100_continue_is_skipped(client):
    async def respond(req, w):
        w.write(head("100 Continue") + reply(b"real"))

    async with RawServer(respond) as srv:
        r = await client.post(srv.url + "/x", json={}, timeout=5)
        assert r.status_code == 200 and r.content == b"real"


# ---- reply framing ----

SSE = b"data: {\"a\": 1}\r\n\r\ndata: {\"b\": 2}\r\n\r\ndata: last"
SSE_LINES = ['data: {"a": 1}', "", 'data: {"b": 2}', "", "data: last"]


async def test_chunked_reply_cut_at_awkward_places(client):
    wire = head("200 OK", "transfer-encoding: chunked") + chunked(SSE[:5], SSE[5:17], SSE[17:18], SSE[18:])
    body_at = wire.index(b"\r\n\r\n") + 4
    # inside the head, inside a chunk size line, inside a chunk's CRLF, inside an event line, in the last chunk
    cuts = [10, body_at + 1, body_at + 3 + 5 + 1, body_at + 14, len(wire) - 3]

    async def respond(req, w):
        await dribble(w, wire, cuts)

    async with RawServer(respond) as srv:
        r = await client.post(srv.url, json={}, timeout=5)
        assert r.content == SSE
        async with client.stream("POST", srv.url, json={}, timeout=5) as s:
            assert [x.rstrip("\r") for x in [line async for line in s.aiter_lines()]] == SSE_LINES


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
async def test_compressed_replies_are_decoded(client, coding):
    name = "deflate" if coding == "raw-deflate" else coding
    packed = compress(SSE, coding)

    async def respond(req, w):
        if req.head.startswith(b"POST /unary"):
            await dribble(w, reply(packed, f"content-encoding: {name}"), [30, 60])
        else:
            await dribble(w, head("200 OK", "transfer-encoding: chunked", f"Content-Encoding: {name.upper()}")
                          + chunked(packed[:7], packed[7:]), [50])

    async with RawServer(respond) as srv:
        r = await client.post(srv.url + "/unary", json={}, timeout=5)
        assert r.content == SSE and r.headers.get("content-encoding") == name
        async with client.stream("POST", srv.url + "/stream", json={}, timeout=5) as s:
            assert [x.rstrip("\r") async for x in s.aiter_lines()] == SSE_LINES


async def test_a_compressed_stream_is_decoded_as_it_arrives(client):
    """The first line is handed on before the server sends the rest (it waits for that line)."""
    first_seen = asyncio.Event()

    async def respond(req, w):
        z = zlib.compressobj(wbits=31)
        part = z.compress(b"data: one\n\n") + z.flush(zlib.Z_SYNC_FLUSH)
        w.write(head("200 OK", "transfer-encoding: chunked", "content-encoding: gzip") + b"%x\r\n%s\r\n" % (len(part), part))
        await w.drain()
        await asyncio.wait_for(first_seen.wait(), 5)
        rest = z.compress(b"data: two\n\n") + z.flush()
        w.write(chunked(rest))

    async with RawServer(respond) as srv:
        async with client.stream("POST", srv.url, json={}, timeout=5) as s:
            lines = s.aiter_lines()
            assert await asyncio.wait_for(lines.__anext__(), 3) == "data: one"
            first_seen.set()
            assert [x async for x in lines] == ["", "data: two", ""]


async def test_a_compressed_bomb_is_cut_off_not_buffered(client, monkeypatch):
    """A tiny gzip reply that inflates past MAX_REPLY_BYTES (a hostile api_base): the unary read and
    a stream line without end stop there with a transport error, and a normal reply afterwards still
    works."""
    limit = 256 * 1024
    monkeypatch.setattr(http1_connection, "MAX_REPLY_BYTES", limit)
    monkeypatch.setattr(upstream_http, "MAX_REPLY_BYTES", limit)
    bomb = compress(b"x" * (64 * limit), "gzip")  # about 16 MiB of one endless "line" in 16 KiB
    assert len(bomb) < limit // 8

    async def respond(req, w):
        if req.head.startswith(b"POST /ok"):
            w.write(reply(b'{"ok": 1}'))
        else:
            w.write(head("200 OK", "transfer-encoding: chunked", "content-encoding: gzip")
                    + chunked(*[bomb[i:i + 4096] for i in range(0, len(bomb), 4096)]))

    async with RawServer(respond) as srv:
        with pytest.raises(UpstreamTransportError, match="larger than"):
            await client.post(srv.url + "/unary", json={}, timeout=5)
        with pytest.raises(UpstreamTransportError, match="larger than"):
            async with client.stream("POST", srv.url + "/stream", json={}, timeout=5) as s:
                async for _ in s.aiter_lines():
                    pass
        assert (await client.post(srv.url + "/ok", json={}, timeout=5)).json() == {"ok": 1}


def _head_bomb(kind: str) -> bytes:
    """About 4 MiB of a hostile reply that ends properly: without a bound the client reads it all."""
    pad = b"a" * 1000
    if kind == "many-headers":
        return b"HTTP/1.1 200 OK\r\n" + b"".join(b"x-pad-%d: %s\r\n" % (i, pad) for i in range(4000)) + \
            b"content-length: 2\r\n\r\nok"
    if kind == "one-long-header":
        return b"HTTP/1.1 200 OK\r\nx-big: " + pad * 4000 + b"\r\ncontent-length: 2\r\n\r\nok"
    if kind == "endless-1xx":
        return b"HTTP/1.1 100 Continue\r\n\r\n" * 160000 + reply(b"ok")
    assert kind == "trailers"
    return head("200 OK", "transfer-encoding: chunked") + b"2\r\nok\r\n0\r\n" + \
        b"".join(b"x-t-%d: %s\r\n" % (i, pad) for i in range(4000)) + b"\r\n"


@pytest.mark.parametrize("kind", ["many-headers", "one-long-header", "endless-1xx", "trailers"])
async def test_an_endless_head_or_trailer_is_cut_off_not_buffered(client, kind):
    """A hostile api_base sends megabytes of headers, 1xx replies or trailers around a tiny body:
    the client stops reading at MAX_FRAMING_BYTES with a transport error (not a timeout, not the
    whole thing buffered), and the next request on a new connection works."""
    async def respond(req, w):
        if req.head.startswith(b"POST /ok"):
            w.write(reply(b'{"ok": 1}'))
            return
        data = _head_bomb(kind)
        for i in range(0, len(data), 65536):
            w.write(data[i:i + 65536])
            await w.drain()

    async with RawServer(respond) as srv:
        with pytest.raises(UpstreamTransportError, match="too large") as ei:
            await client.post(srv.url + "/bomb", json={}, timeout=5)
        assert not isinstance(ei.value, UpstreamTimeout)
        assert client.open_connections == 0
        assert (await client.post(srv.url + "/ok", json={}, timeout=5)).json() == {"ok": 1}


async def test_many_small_chunks_are_not_mistaken_for_a_framing_bomb(client):
    pieces = [b"%03d" % (i % 1000) for i in range(30000)]  # 90 KB of body in 3-byte chunks: 240 KB framing

    async def respond(req, w):
        w.write(head("200 OK", "transfer-encoding: chunked") + chunked(*pieces, last=False) +
                b"0\r\nx-trailer: fine\r\n\r\n")

    async with RawServer(respond) as srv:
        assert (await client.post(srv.url, json={}, timeout=5)).content == b"".join(pieces)


async def test_a_corrupt_compressed_body_is_a_transport_error(client):
    async def respond(req, w):
        w.write(reply(b"\x1f\x8bnot really gzip at all", "content-encoding: gzip"))

    async with RawServer(respond) as srv:
        with pytest.raises(UpstreamTransportError):
            await client.post(srv.url, json={}, timeout=5)


async def test_a_reply_without_length_is_read_until_close(client):
    async def respond(req, w):
        await dribble(w, head("200 OK", "content-type: text/event-stream") + SSE, [60, 80])
        w.close()

    async with RawServer(respond) as srv:
        r = await client.post(srv.url, json={}, timeout=5)
        assert r.content == SSE
        async with client.stream("POST", srv.url, json={}, timeout=5) as s:
            assert [x.rstrip("\r") async for x in s.aiter_lines()] == SSE_LINES
        assert client.open_connections == 0 and srv.connections == 2  # never pooled


@pytest.mark.parametrize("wire", [
    head("200 OK", "content-length: 100") + b"only ten b",
    head("200 OK", "transfer-encoding: chunked") + chunked(b"data: 1\n", last=False),
    head("200 OK", "transfer-encoding: chunked") + b"5\r\nda",
    head("200 OK", "content-length: 5"),
], ids=["short-content-length", "no-last-chunk", "cut-inside-a-chunk", "head-only"])
async def test_a_reply_cut_mid_body_is_a_transport_error(client, wire):
    async def respond(req, w):
        w.write(wire)
        await w.drain()
        w.close()  # a clean close (FIN), not a reset

    async with RawServer(respond) as srv:
        with pytest.raises(UpstreamTransportError) as exc:
            await client.post(srv.url, json={}, timeout=5)
        assert not isinstance(exc.value, UpstreamTimeout)
        with pytest.raises(UpstreamTransportError):
            async with client.stream("POST", srv.url, json={}, timeout=5) as s:
                await s.aread()
        assert client.open_connections == 0


@pytest.mark.parametrize("wire", [b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n", b"\x00\x01\x02" * 100,
                                  b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n"])
async def test_garbage_instead_of_http_is_a_transport_error(client, wire):
    async def respond(req, w):
        w.write(wire)
        await asyncio.sleep(2)  # the client must fail on the bytes, not on the connection's end

    async with RawServer(respond) as srv:
        with pytest.raises(UpstreamTransportError) as exc:
            await client.post(srv.url, json={}, timeout=5)
        assert not isinstance(exc.value, UpstreamTimeout)
        assert client.open_connections == 0


@pytest.mark.parametrize("extra", [b"EXTRA", reply(b"unasked")], ids=["bytes", "a-second-reply"])
async def test_bytes_after_the_reply_end_the_connection(client, extra):
    async def respond(req, w):
        w.write(reply(b"abc") + extra)

    async with RawServer(respond) as srv:
        for _ in range(2):
            assert (await client.post(srv.url, json={}, timeout=5)).content == b"abc"
        assert srv.connections == 2 and client.open_connections == 0
