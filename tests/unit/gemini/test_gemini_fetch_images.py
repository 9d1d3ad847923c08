"""SSRF guard and fetcher, against real local HTTP servers."""

import base64
import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.gemini.fetch_images import MediaFetcher, is_public_ip
from router_service.providers.gemini.translate import image_urls_to_fetch, to_gemini_request, with_fetched_images

PNG = b"\x89PNG\r\n\x1a\n" + b"x" * 100


class Handler(BaseHTTPRequestHandler):
    hosts: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Handler.hosts.append(self.headers.get("host"))
        path = self.path
        if path.startswith("/redirect-to/"):
            self.send_response(302)
            self.send_header("location", path[len("/redirect-to/"):].replace("_", "/"))
            self.end_headers()
            return
        if path.startswith("/loop"):
            self.send_response(302)
            self.send_header("location", "/loop")
            self.end_headers()
            return
        ctype, body = {"/img.png": ("image/png", PNG), "/page": ("text/html", b"<html/>"),
                       "/doc.pdf": ("application/pdf", b"%PDF-1.4")}.get(path, ("text/plain", b"nf"))
        chunked = path == "/chunked.png"
        if chunked:
            ctype, body = "image/png", PNG
        self.send_response(200 if body != b"nf" or chunked else 404)
        self.send_header("content-type", ctype)
        if chunked:
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.wfile.write(f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
            return
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _req(url, kind="image"):
    part = {"type": "image_url", "image_url": {"url": url}} if kind == "image" else {"type": "file", "file": {"file_id": url}}
    return {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "look"}, part]}]}


async def _fetch(url, kind="image", **kw):
    async with httpx.AsyncClient() as http:
        return await MediaFetcher(http, **kw).inline_remote_media(_req(url, kind))


def _expect_400(exc_info):
    assert exc_info.value.kind is ErrorKind.INVALID_REQUEST
    assert exc_info.value.param == "messages[0].content[1]"


async def test_fetch_allowed_private_inlines_image(server):
    req = await _fetch(f"{server}/img.png", allow_private=True)
    body = to_gemini_request(req)
    assert body["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}


async def test_default_blocks_loopback(server):
    with pytest.raises(GatewayError) as exc:
        await _fetch(f"{server}/img.png")
    _expect_400(exc)
    assert "non-public" in exc.value.message


@pytest.mark.parametrize("ip", ["10.0.0.1", "172.16.3.4", "192.168.1.1", "127.0.0.2", "169.254.169.254", "100.64.1.1",
                                "224.0.0.1", "0.0.0.0", "240.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "ff02::1"])
async def test_blocked_resolved_addresses(ip):
    async def resolver(host, port):
        return ["93.184.216.34", ip]  # one bad address among good ones is enough to refuse
    with pytest.raises(GatewayError) as exc:
        await _fetch("http://images.example/cat.png", resolver=resolver)
    _expect_400(exc)


@pytest.mark.parametrize("ip,public", [("8.8.8.8", True), ("2001:4860:4860::8888", True), ("100.100.1.1", False),
                                       ("169.254.169.254", False), ("::ffff:10.0.0.1", False)])
def test_is_public_ip(ip, public):
    assert is_public_ip(ipaddress.ip_address(ip)) is public


async def test_connects_to_checked_ip_with_original_host(server):
    port = server.rsplit(":", 1)[1]
    seen = []

    async def resolver(host, p):
        seen.append(host)
        return ["127.0.0.1"]
    Handler.hosts.clear()
    req = await _fetch(f"http://img.test:{port}/img.png", resolver=resolver, allowed_networks=["127.0.0.1/32"])
    assert seen == ["img.test"] and Handler.hosts == [f"img.test:{port}"]
    assert req["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


async def test_redirect_to_private_blocked(server):
    with pytest.raises(GatewayError) as exc:
        await _fetch(f"{server}/redirect-to/http:__169.254.169.254_latest_meta-data", allowed_networks=["127.0.0.1/32"])
    _expect_400(exc)


async def test_redirect_followed_within_limit(server):
    req = await _fetch(f"{server}/redirect-to/_img.png", allow_private=True)
    assert req["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png")


async def test_too_many_redirects(server):
    with pytest.raises(GatewayError) as exc:
        await _fetch(f"{server}/loop", allow_private=True)
    _expect_400(exc)
    assert "redirected" in exc.value.message


@pytest.mark.parametrize("path", ["/img.png", "/chunked.png"])
async def test_oversize(server, path):
    with pytest.raises(GatewayError) as exc:
        await _fetch(f"{server}{path}", allow_private=True, max_bytes=20)
    _expect_400(exc)
    assert "larger" in exc.value.message


async def test_wrong_content_type(server):
    with pytest.raises(GatewayError) as exc:
        await _fetch(f"{server}/page", allow_private=True)
    _expect_400(exc)


async def test_pdf_ok_for_file_part_not_for_image(server):
    req = await _fetch(f"{server}/doc.pdf", kind="file", allow_private=True)
    assert req["messages"][0]["content"][1]["file"] == {"file_data": "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4").decode()}
    with pytest.raises(GatewayError):
        await _fetch(f"{server}/doc.pdf", allow_private=True)


async def test_http_error_status(server):
    with pytest.raises(GatewayError) as exc:
        await _fetch(f"{server}/missing.png", allow_private=True)
    _expect_400(exc)


async def test_unresolvable_host():
    async def resolver(host, port):
        raise OSError("nxdomain")
    with pytest.raises(GatewayError) as exc:
        await _fetch("https://nope.invalid/x.png", resolver=resolver)
    _expect_400(exc)


def test_pure_helpers():
    req = _req("https://a.example/x.png")
    req["messages"].append({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://a.example/x.png"}},
                                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]})
    assert image_urls_to_fetch(req) == ["https://a.example/x.png"]
    out = with_fetched_images(req, {"https://a.example/x.png": ("image/png", "AA==")})
    assert out["messages"][1]["content"][0]["image_url"]["url"] == "data:image/png;base64,AA=="
    assert req["messages"][1]["content"][0]["image_url"]["url"].startswith("https://")  # input untouched


async def test_user_url_allowed_hosts(server):
    """litellm_settings.user_url_allowed_hosts: only listed hosts (`*.x` for subdomains), on top of
    the address check; a host outside the list is refused before any DNS lookup or connection."""
    port = server.rsplit(":", 1)[1]
    looked_up = []

    async def resolver(host, p):
        looked_up.append(host)
        return ["127.0.0.1"]
    kw = {"resolver": resolver, "allowed_networks": ["127.0.0.1/32"], "allowed_hosts": ["img.test", "*.cdn.test"]}
    req = await _fetch(f"http://img.test:{port}/img.png", **kw)
    assert req["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    await _fetch(f"http://a.cdn.test:{port}/img.png", **kw)
    looked_up.clear()
    for url in (f"http://evil.test:{port}/img.png", f"http://cdn.test.evil:{port}/img.png"):
        with pytest.raises(GatewayError) as exc:
            await _fetch(url, **kw)
        _expect_400(exc)
        assert "user_url_allowed_hosts" in exc.value.message
    assert looked_up == []
