"""Real local servers for the upstream client's tests (tests/service/test_upstream_http*.py): a raw
HTTP/1.1 server whose replies are written byte by byte by the test, counting connections and
requests, and a self-signed TLS certificate made with `cryptography`."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import zlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Request:
    conn: int  # which connection (1, 2, ...) it came on
    head: bytes
    body: bytes
    reader: asyncio.StreamReader = field(repr=False)  # e.g. to see the client close the connection

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode()
        return None


@dataclass
class RawServer:
    """Reads requests (head + Content-Length body) one after another on each connection and calls
    `respond(request, writer)`, which writes the reply (or closes, or hangs). A connection ends
    when the client closes it or the responder closes the writer."""

    respond: object
    host: str = "127.0.0.1"
    ssl: ssl.SSLContext | None = None
    connections: int = 0
    closed: int = 0  # connections that have ended
    open_now: int = 0
    most_open: int = 0
    requests: list[Request] = field(default_factory=list)

    async def __aenter__(self) -> RawServer:
        self._srv = await asyncio.start_server(self._handle, self.host, 0, ssl=self.ssl)
        return self

    async def __aexit__(self, *exc) -> None:
        self._srv.close()

    @property
    def url(self) -> str:
        port = self._srv.sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl else 'http'}://{host}:{port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        n = self.connections
        try:
            while not writer.is_closing():
                head = await reader.readuntil(b"\r\n\r\n")
                req = Request(n, head, b"", reader)
                length = int(req.header("content-length") or 0)
                req.body = await reader.readexactly(length) if length else b""
                self.requests.append(req)
                await self.respond(req, writer)
                if not writer.is_closing():
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self.open_now -= 1
            self.closed += 1
            writer.close()


def head(status: str = "200 OK", *headers: str, version: str = "HTTP/1.1") -> bytes:
    return (f"{version} {status}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()


def reply(body: bytes, *headers: str, status: str = "200 OK", version: str = "HTTP/1.1") -> bytes:
    return head(status, f"content-length: {len(body)}", *headers, version=version) + body


def chunked(*pieces: bytes, last: bool = True) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
    return out + (b"0\r\n\r\n" if last else b"")


async def dribble(writer: asyncio.StreamWriter, data: bytes, cuts: list[int], pause: float = 0.01) -> None:
    """Write `data` in pieces cut at the given offsets, each piece a separate send."""
    assert cuts == sorted(cuts) and cuts[-1] < len(data), "every piece must hold bytes"
    start = 0
    for cut in [*cuts, len(data)]:
        writer.write(data[start:cut])
        await writer.drain()
        await asyncio.sleep(pause)
        start = cut


def compress(data: bytes, coding: str) -> bytes:
    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}[coding]
    z = zlib.compressobj(wbits=wbits)
    return z.compress(data) + z.flush()


def self_signed(tmp_path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting only this certificate) for 127.0.0.1/localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gemgate test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client
