"""InputGuard on a real uvicorn server: an unexpected exception is the OpenAI 500 envelope and the
keep-alive connection survives it; header and size checks apply to any route."""

import http.client
import json

import pytest
from fastapi import FastAPI, Request

from rest_facade.guard import InputGuard
from tests.fakes.server import run_in_thread


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/boom")
    async def boom():
        raise RuntimeError("secret internals <class 'x'>")

    @app.post("/echo")
    async def echo(request: Request):
        return {"n": len(await request.body())}

    app.add_middleware(InputGuard, max_body_bytes=1000, preauth_bytes=100)
    return app


@pytest.fixture(scope="module")
def server():
    handle = run_in_thread(_app())
    yield handle
    handle.stop()


def _post(conn, path, body=b"{}", headers=None):
    conn.request("POST", path, body=body, headers={"content-type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    return resp, resp.read()


def test_unexpected_exception_is_a_500_envelope_and_keeps_the_connection(server):
    conn = http.client.HTTPConnection(server.base_url.removeprefix("http://"), timeout=10)
    _post(conn, "/echo")
    local = conn.sock.getsockname()
    for _ in range(3):
        resp, raw = _post(conn, "/boom")
        assert resp.status == 500
        err = json.loads(raw)["error"]
        assert err["type"] == "server_error" and "class" not in err["message"] and "secret" not in err["message"]
        resp, raw = _post(conn, "/echo", b"x" * 10)
        assert resp.status == 200 and json.loads(raw) == {"n": 10}
    assert conn.sock.getsockname() == local


def test_limits_apply_to_every_route(server):
    conn = http.client.HTTPConnection(server.base_url.removeprefix("http://"), timeout=10)
    resp, raw = _post(conn, "/echo", b"x" * 1001)
    assert resp.status == 413 and resp.getheader("connection") == "close"
    conn = http.client.HTTPConnection(server.base_url.removeprefix("http://"), timeout=10)
    resp, raw = _post(conn, "/echo", b"x" * 1000)
    assert resp.status == 200
    resp, raw = _post(conn, "/echo", headers={"x-request-id": "caf\xe9"})
    assert resp.status == 400 and json.loads(raw)["error"]["param"] == "x-request-id"
    resp, raw = _post(conn, "/echo")
    assert resp.status == 200  # same connection still fine after the header error
