"""IO: fetch remote media (image_url / file parts with http(s) URLs) behind an SSRF guard.

Every hop (the first URL and each redirect, at most `max_redirects`) is resolved by us; if any
resolved address is loopback/private/link-local (incl. cloud metadata 169.254.169.254)/CGNAT/
multicast/reserved/unspecified (i.e. not globally routable) the fetch is refused, and the request
connects to the checked IP (Host header and TLS SNI keep the original name, so certificates are
still verified against it). Size cap, timeout and content-type are enforced. All failures are
GatewayError INVALID_REQUEST with param naming the message part.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit


from gemgate.errors import invalid

from .images import media_locations, with_fetched_images

if TYPE_CHECKING:
    import httpx

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_FILE_TYPES = ("image/", "audio/", "video/", "application/pdf", "text/plain")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")           # ::a.b.c.d (deprecated form)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 address(es) an IPv6 address carries and is routed to: IPv4-mapped (::ffff:a.b.c.d),
    IPv4-compatible (::a.b.c.d), 6to4 (2002:AABB:CCDD::/16), Teredo (2001::/32: server and
    client), NAT64 (64:ff9b::/96 well-known, 64:ff9b:1::/48 local-use). None for other addresses."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return None


def is_public_ip(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = embedded_ipv4(ip)
        if embedded is not None:  # judged by where it really goes
            return all(is_public_ip(v4) for v4 in embedded)
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback or ip.is_link_local:
        return False
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return ip.is_global


class MediaFetcher:
    """`http`: the httpx client to fetch with; None = make one on the first fetch (httpx is then
    imported only by a router that fetches remote media)."""

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        allow_private: bool = False,
        allowed_networks: Iterable[str] = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = 10.0,
        max_redirects: int = 3,
        resolver: Resolver | None = None,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.http = http
        # litellm_settings.user_url_allowed_hosts: when set, only these hosts ("*.example.com" matches
        # subdomains), on top of the address check
        self.allowed_hosts = [h.lower().rstrip(".") for h in allowed_hosts]
        self.allow_private = allow_private
        self.allowed = [ipaddress.ip_network(n) for n in allowed_networks]
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.resolver = resolver or system_resolver

    def _host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == h or (h.startswith("*.") and host.endswith(h[1:])) for h in self.allowed_hosts)

    def _ip_allowed(self, ip: IPAddress) -> bool:
        return self.allow_private or is_public_ip(ip) or any(ip in n for n in self.allowed)

    async def _checked_ip(self, url: str, where: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise invalid("media URL must be http(s)", where)
        if self.allowed_hosts and not self._host_allowed(parts.hostname):
            raise invalid("media URL host is not in litellm_settings.user_url_allowed_hosts", where)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            literal = ipaddress.ip_address(parts.hostname)
            addrs = [str(literal)]
        except ValueError:
            try:
                addrs = await self.resolver(parts.hostname, port)
            except (OSError, UnicodeError):
                raise invalid("cannot resolve the media URL host", where) from None
        if not addrs:
            raise invalid("cannot resolve the media URL host", where)
        ips = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addrs]
        if not all(self._ip_allowed(ip) for ip in ips):
            raise invalid("media URL points to a non-public address", where)
        return str(ips[0])

    @staticmethod
    def _pinned(url: str, ip: str) -> tuple[str, dict, dict]:
        parts = urlsplit(url)
        host = f"[{ip}]" if ":" in ip else ip
        netloc = f"{host}:{parts.port}" if parts.port else host
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        headers = {"host": parts.netloc.rsplit("@", 1)[-1]}
        ext = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        return pinned, headers, ext

    async def fetch(self, url: str, where: str, kind: str = "image") -> tuple[str, str]:
        """-> (mime type, base64 data)."""
        try:
            return await asyncio.wait_for(self._fetch(url, where, kind), self.timeout)
        except asyncio.TimeoutError:
            raise invalid("timed out fetching the media URL", where) from None

    def _client(self) -> httpx.AsyncClient:
        if self.http is None:
            import httpx

            self.http = httpx.AsyncClient(follow_redirects=False, trust_env=False,
                                          timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)))
        return self.http

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    async def _fetch(self, url: str, where: str, kind: str) -> tuple[str, str]:
        import httpx

        http = self._client()
        for _ in range(self.max_redirects + 1):
            ip = await self._checked_ip(url, where)
            pinned, headers, ext = self._pinned(url, ip)
            request = http.build_request("GET", pinned, headers=headers, extensions=ext)
            try:
                resp = await http.send(request, stream=True, follow_redirects=False)
            except httpx.HTTPError:
                raise invalid("cannot fetch the media URL", where) from None
            try:
                if resp.is_redirect and resp.headers.get("location"):
                    url = urljoin(url, resp.headers["location"])
                    continue
                return await self._read(resp, where, kind)
            finally:
                await resp.aclose()
        raise invalid(f"media URL redirected more than {self.max_redirects} times", where)

    def _check_type(self, mime: str, where: str, kind: str) -> None:
        ok = mime.startswith("image/") if kind == "image" else mime.startswith(_FILE_TYPES)
        if not ok:
            raise invalid(f"media URL returned unsupported content-type {mime or 'none'!r}", where)

    async def _read(self, resp: httpx.Response, where: str, kind: str) -> tuple[str, str]:
        import httpx

        if resp.status_code != 200:
            raise invalid(f"media URL answered HTTP {resp.status_code}", where)
        mime = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        self._check_type(mime, where, kind)
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise invalid(f"media is larger than {self.max_bytes} bytes", where)
        data = bytearray()
        try:
            async for chunk in resp.aiter_bytes():
                data.extend(chunk)
                if len(data) > self.max_bytes:
                    raise invalid(f"media is larger than {self.max_bytes} bytes", where)
        except httpx.HTTPError:
            raise invalid("cannot fetch the media URL", where) from None
        return mime, base64.b64encode(bytes(data)).decode()

    async def fetch_all(self, req: dict) -> dict[str, tuple[str, str]]:
        locations = media_locations(req)
        results = await asyncio.gather(*(self.fetch(u, w, k) for u, (w, k) in locations.items()))
        return dict(zip(locations, results))

    async def inline_remote_media(self, req: dict) -> dict:
        """The request with every http(s) media URL replaced by a data: URI."""
        if not media_locations(req):
            return req
        return with_fetched_images(req, await self.fetch_all(req))
