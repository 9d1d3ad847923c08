"""One HTTP/1.1 client connection to an upstream, as an asyncio Protocol (no StreamReader): it sends
one request at a time, parses the reply with httptools (llhttp, in C) and hands the body to one
reader, with a read timeout, read pausing for a slow reader and transparent gzip/deflate decoding.
When the connection may be used again is decided here (`reusable()`); keeping it is the pool's job
(http1_pool.py).

Errors are UpstreamTransportError, UpstreamTimeout for timeouts; StaleConnection is a reused
keep-alive connection that went away before any reply byte (the request can be sent again).
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import zlib
from collections.abc import Iterator, Mapping

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

HIGH_WATER = 1 << 20  # reply bytes buffered for a slow reader before the socket stops being read
# a whole unary reply, or one line of a stream, decoded: past this the upstream (or a compressed
# "bomb" from a hostile api_base) is cut off instead of filling the router's memory; twice the
# largest gRPC message the router can pass on (gemgate/grpc_server.py MESSAGE_OPTIONS)
MAX_REPLY_BYTES = 128 << 20
LOW_WATER = 1 << 18  # ... and reading resumes once the reader has taken the buffer below this
# what a reply may carry besides its body (status line, headers, interim 1xx replies, chunk
# framing, trailers): this much plus twice the body's bytes on the wire. httptools buffers a header
# until it ends and the headers are kept, so without a bound a hostile upstream's endless head, 1xx
# replies or trailers would fill the router's memory (a read timeout never fires while bytes flow)
MAX_FRAMING_BYTES = 256 << 10


class UpstreamTransportError(Exception):
    """The upstream could not be reached, or its reply could not be read to the end."""


class UpstreamTimeout(UpstreamTransportError):
    """No connection, or no data, within the timeout."""


class StaleConnection(UpstreamTransportError):
    """A reused keep-alive connection closed (EOF, reset, broken pipe) before any reply byte."""


_STALE_ERRNOS = (errno.ECONNRESET, errno.EPIPE)


def _is_stale_close(exc: BaseException | None) -> bool:
    if exc is None or isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return True
    return isinstance(exc, OSError) and exc.errno in _STALE_ERRNOS


class ReplyHeaders(Mapping):
    """A reply's headers, read-only, looked up case-insensitively. Names are lower-cased; a header
    sent more than once is kept as one value, its values joined with ", " in order (RFC 9110 5.3)."""

    __slots__ = ("_raw", "_map")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw, self._map = raw, None

    def _dict(self) -> dict[str, str]:
        if self._map is None:
            m: dict[str, str] = {}
            for name, value in self._raw:
                key, val = name.decode("latin-1").lower(), value.decode("latin-1")
                m[key] = f"{m[key]}, {val}" if key in m else val
            self._map = m
        return self._map

    def __getitem__(self, name: str) -> str:
        return self._dict()[name.lower()]

    def get(self, name: str, default=None):
        return self._dict().get(name.lower(), default)

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name.lower() in self._dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return f"ReplyHeaders({self._dict()!r})"


class _Deflate:
    """HTTP `deflate`: zlib-wrapped as RFC 9110 says, or raw deflate as some servers send it."""

    def __init__(self) -> None:
        self._z, self._head, self._known = zlib.decompressobj(), b"", False

    def decompress(self, data: bytes) -> bytes:
        if self._known:
            return self._z.decompress(data)
        self._head += data
        try:
            out = self._z.decompress(data)
        except zlib.error:  # not a zlib header: raw deflate from the first byte
            self._z, self._known = zlib.decompressobj(-zlib.MAX_WBITS), True
            return self._z.decompress(self._head)
        if len(self._head) >= 2:  # the two-byte zlib header was accepted
            self._known, self._head = True, b""
        return out

    def flush(self) -> bytes:
        return self._z.flush()

    @property
    def eof(self) -> bool:
        return self._z.eof


def _decoder(coding: bytes):
    coding = coding.strip().lower()
    if coding in (b"gzip", b"x-gzip"):
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip (or a zlib header) detected
    if coding == b"deflate":
        return _Deflate()
    return None  # identity, or a coding we did not ask for: handed on as received


def too_large(limit: int) -> UpstreamTransportError:
    return UpstreamTransportError(f"upstream reply larger than {limit} bytes")


class _ExtraReply(Exception):
    """Bytes after the end of the reply: the connection is not used again."""


class Http1Connection(asyncio.Protocol):
    """Attributes the pool uses: key, reused, idle, idle_since, idle_timer, holds_slot, closed."""

    def __init__(self, key: tuple[str, str, int], on_gone) -> None:
        self.key, self._on_gone = key, on_gone
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = self.reused = self.idle = self.holds_slot = False
        self.idle_since, self.idle_timer = 0.0, None
        self._parser = None  # made per request, kept after its reply; None before the first and once closed
        self._waiter: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timeout: float | None = None
        self._wait_since = 0.0
        self._writing_paused = self._reading_paused = False

    # ---- one request ----
    def send(self, head: bytes, body: bytes | None, timeout: float | None) -> None:
        if self.closed or self.transport.is_closing():
            raise StaleConnection("ServerDisconnected") if self.reused else UpstreamTransportError("ServerDisconnected")
        self._parser = HttpResponseParser(self)
        self._timeout = timeout
        self.status = 0
        self._raw: list[tuple[bytes, bytes]] = []
        self._chunks: list[bytes] = []
        self._buffered = self._wire = self._wire_body = 0
        self._head_done = self._done = self._keep = self._got_bytes = self._interim = False
        self._until_close = self._compressed = False
        self._decoder = None
        self._error: UpstreamTransportError | None = None
        self._bad: str | None = None
        if body is None:
            self.transport.write(head)
        elif len(body) <= 262144:
            self.transport.write(head + body)  # one send for the usual small request
        else:
            self.transport.write(head)
            self.transport.write(body)

    @property
    def headers(self) -> ReplyHeaders:
        return ReplyHeaders(self._raw)

    async def wait_head(self) -> None:
        while not self._head_done:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def read_some(self) -> bytes:
        """The reply body received so far and not yet read (decoded); b"" at its end."""
        while True:
            chunks = self._chunks
            if chunks:
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self._buffered = 0
                if self._reading_paused and not self.closed:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return data
            if self._error is not None:
                raise self._error
            if self._done:
                return b""
            await self._wait()

    async def read_all(self) -> bytes:
        parts, size, limit = [], 0, MAX_REPLY_BYTES
        while data := await self.read_some():
            size += len(data)
            if size > limit:
                self.close()
                raise too_large(limit)
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def reusable(self) -> bool:
        """The reply was received and read to its end and allows another request."""
        return self._done and self._keep and not self._chunks and not self.closed

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # ---- waiting, with the read timeout ----
    async def _wait(self) -> None:
        fut = self._waiter = self._loop.create_future()
        if self._timeout is not None:
            self._wait_since = self._loop.time()
            due, timer = self._wait_since + self._timeout, self._timer
            if timer is None or timer.when() > due:  # none, or left by an earlier request with a longer timeout
                if timer is not None:
                    timer.cancel()
                self._timer = self._loop.call_at(due, self._on_timer)
        try:
            await fut
        finally:
            self._waiter = None

    def _on_timer(self) -> None:
        """One timer per connection, re-armed only when it fires early: the reader has been waiting
        for less than the timeout, or the request is still being written."""
        self._timer = None
        fut = self._waiter
        if fut is None or fut.done() or self._timeout is None:
            return
        now = self._loop.time()
        due = self._wait_since + self._timeout
        if self._writing_paused:
            due = now + self._timeout
        if now < due:
            self._timer = self._loop.call_at(due, self._on_timer)
            return
        fut.set_exception(UpstreamTimeout("read"))

    def _wake(self) -> None:
        fut = self._waiter
        if fut is not None and not fut.done():
            fut.set_result(None)

    # ---- asyncio.Protocol ----
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._parser is None or self._done:  # bytes nobody asked for
            self._keep = False
            self.close()
            return
        self._got_bytes = True
        if self._waiter is not None:
            self._wait_since = self._loop.time()  # bytes arrived: the read timeout counts from here
        self._wire += len(data)
        try:
            self._parser.feed_data(data)
            if self._wire - self._wire_body > MAX_FRAMING_BYTES + 2 * self._wire_body and not self._done:
                self._bad = "reply head or framing too large"
                raise HttpParserError(self._bad)
        except (HttpParserError, HttpParserUpgrade) as exc:
            if not self._done:
                self._error = UpstreamTransportError(self._bad or type(exc).__name__)
                self._wake()
            self._keep = False
            self.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        ours, self.closed = self.closed, True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._parser is not None and not self._done and self._error is None:
            reason = type(exc).__name__ if exc else "ClientClosed" if ours else "ServerDisconnected"
            if self._head_done and self._until_close and not ours:  # a body delimited by the connection's end
                self._end_of_body()
            elif not self._got_bytes and self.reused and not ours and _is_stale_close(exc):
                self._error = StaleConnection(reason)
            else:
                self._error = UpstreamTransportError(reason)
            self._wake()
        self._parser = None  # it refers back to this protocol: no cycle left for the GC
        self._on_gone(self)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wait_since = self._loop.time()  # the wait for the reply starts once the request is out

    # ---- httptools callbacks ----
    def on_message_begin(self) -> None:
        if self._done:
            raise _ExtraReply()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # 1xx interim reply (100 Continue, 103 Early Hints): the real one follows
            self._raw, self._interim = [], True
            return
        self.status = status
        length, coding, framing = False, b"", b""
        for name, value in self._raw:
            n = len(name)
            if n == 14 and name.lower() == b"content-length":
                length = True
            elif n == 16 and name.lower() == b"content-encoding":
                coding = value
            elif n == 17 and name.lower() == b"transfer-encoding":
                framing = value
        self._until_close = not length and not framing.rstrip().lower().endswith(b"chunked")
        if coding:
            self._decoder = _decoder(coding)
        self._head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._wire_body += len(body)
        if self._decoder is not None:
            self._compressed = True
            try:
                body = self._decoder.decompress(body)
            except zlib.error:
                self._bad = "invalid compressed body"
                raise
            if not body:
                return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._keep = self._parser.should_keep_alive() and self._parser.get_http_version() == "1.1"
        if not self._end_of_body():
            self._bad = "invalid compressed body"
            raise ValueError(self._bad)

    def _end_of_body(self) -> bool:
        decoder = self._decoder
        if decoder is not None and self._compressed:
            try:
                tail = decoder.flush()
            except zlib.error:
                tail, decoder = b"", None
            if decoder is None or not decoder.eof:  # cut or corrupt: not a whole compressed body
                self._error = UpstreamTransportError("invalid compressed body")
                self._keep = False
                self._wake()
                return False
            if tail:
                self._chunks.append(tail)
                self._buffered += len(tail)
        self._done = True
        self._wake()
        return True
