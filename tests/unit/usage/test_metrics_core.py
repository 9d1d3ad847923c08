"""gemgate.metrics_core against prometheus_client (a test-time dependency only): the same operations
give the same text exposition, byte for byte; plus thread safety and the internal HTTP endpoint."""

import math
import random
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from gemgate import metrics, metrics_core
from gemgate.metrics_core import Counter, Gauge, Histogram, Registry, format_float
from gemgate.ports import free_port

prom = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from prometheus_client.utils import floatToGoString  # noqa: E402

ODD = 'q"uo\\te\nnl é😀\t'


def _populate(C, G, H, registry) -> None:
    """The same operations through either implementation (same constructor and child API)."""
    c = C("x_requests_total", 'Help with \\ backslash\nnewline and "quotes".', ["b", "a"], registry=registry)
    c.labels("v1", "w").inc()
    c.labels(b=ODD, a="z").inc(2.5)
    for label, amount in (("big", 123456789), ("tiny", 1e-7), ("m", 1000000), ("m7", 10000000), ("f", 0.1)):
        c.labels(label, "n").inc(amount)
        c.labels(label, "n").inc(amount)
    c.labels(1, 2).inc(3)
    C("x_empty", "Never labelled.", ["k"], registry=registry)
    C("x_plain_total", "Unlabelled.", registry=registry).inc(4)
    C("x_zero", "Unlabelled, untouched.", registry=registry)
    g = G("x_gauge", "A gauge.", ["d", "c"], registry=registry)
    for i, v in enumerate((1, -2.5, math.inf, -math.inf, math.nan, 0.1 + 0.2, 1e21, 12345678.9, -12345678.9, 0)):
        g.labels(str(i), ODD).set(v)
    g.labels("inc", "x").inc(2)
    g.labels("inc", "x").dec(0.5)
    G("x_gauge_plain", "Unlabelled gauge.", registry=registry).set(7)
    h = H("x_lat_seconds", "Latency.", ["model", "a"], buckets=(0.005, 0.01, 0.5, 1, 2.5, 300), registry=registry)
    for v in (0.001, 0.005, 0.0051, 0.7, 1, 3, 1000, -1):
        h.labels("one", ODD).observe(v)
    h.labels("two", "")
    with h.labels("timed", "x").time():
        pass
    hu = H("x_plain_hist", "Unlabelled hist.", buckets=(1e-7, 0.5, 10000000, 123456789.0, math.inf), registry=registry)
    hu.observe(0.25)
    H("x_default_hist", "Default buckets.", registry=registry).observe(0.3)
    H("x_zed", "Labels after le.", ["zone"], buckets=(1,), registry=registry).labels("z").observe(2)


def test_exposition_is_byte_identical_to_prometheus_client(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1712345678.123456)
    monkeypatch.setattr(time, "perf_counter", lambda: 5.0)  # .time() observes exactly 0 ...
    monkeypatch.setattr("prometheus_client.context_managers.default_timer", lambda: 5.0)  # ... in both
    theirs = prom.CollectorRegistry(auto_describe=True)
    _populate(prom.Counter, prom.Gauge, prom.Histogram, theirs)
    ours = Registry()
    _populate(Counter, Gauge, Histogram, ours)
    expected = prom.generate_latest(theirs)
    assert ours.render() == expected
    assert _parsed(ours.render()) == _parsed(expected)


def _parsed(text: bytes) -> list:
    """What Prometheus' parser reads from an exposition (values by repr: NaN == NaN)."""
    return [(f.name, f.type, f.documentation, [(s.name, sorted(s.labels.items()), repr(s.value)) for s in f.samples])
            for f in text_string_to_metric_families(text.decode())]


def test_gateway_registry_parses_and_has_every_family():
    metrics.set_model_groups(["mg-core"])
    metrics.observe_request("mg-core", "success", 0.2)
    metrics.observe_request("mg-core", "failure", 0.3, "RATE_LIMIT")
    metrics.observe_ttft("mg-core", 0.1)
    metrics.add_tokens("mg-core", 'alias "x"\\\n', 3, 4)
    metrics.add_spend("mg-core", "a", 0.5)
    metrics.set_cooldown("d1", True)
    metrics.observe_budget_call("Heartbeat", 0.001)
    families = {f.name: f for f in text_string_to_metric_families(metrics.render_metrics().decode())}
    assert {"gemgate_requests", "gemgate_errors", "gemgate_request_latency_seconds",
            "gemgate_time_to_first_token_seconds", "gemgate_tokens", "gemgate_spend_usd",
            "gemgate_deployment_cooldown", "gemgate_budget_call_latency_seconds", "gemgate_spend_log_pending",
            "gemgate_spend_log_rows_written", "gemgate_spend_log_write_failures", "gemgate_usage_records_dropped",
            "gemgate_usage_records_delivered", "gemgate_usage_records_failed"} <= set(families)
    tokens = {tuple(sorted(s.labels.items())): s.value for s in families["gemgate_tokens"].samples
              if s.name == "gemgate_tokens_total"}
    assert tokens[(("key_alias", 'alias "x"\\\n'), ("kind", "completion"), ("model_group", "mg-core"))] >= 4
    assert families["gemgate_request_latency_seconds"].type == "histogram"


def test_format_float_matches_prometheus_client():
    rnd = random.Random(7)
    values = [0.0, -0.0, 1, -1, 0.1, 1e-7, 1e-5, 123456.0, 999999.0, 1000000.0, 1234567.0, 12345678.9,
              10000000.5, 1e10, 1e15, 1e16, 1e17, 1e21, 1.5e300, 5e-324, -1e21, -12345678.9,
              math.inf, -math.inf, math.nan, 2**53, 1712345678.123456, 0.30000000000000004]
    values += [rnd.uniform(-1, 1) * 10 ** rnd.randint(-12, 25) for _ in range(5000)]
    values += [float(rnd.randint(0, 10**12)) for _ in range(2000)]
    for v in values:
        assert format_float(v) == floatToGoString(v), v


def test_label_api_and_errors():
    r = Registry()
    c = Counter("t_c_total", "c", ["a", "b"], registry=r)
    assert c.labels("x", "y") is c.labels(a="x", b="y") is c.labels(b="y", a="x")
    assert c.labels(1, 2) is c.labels("1", "2")
    for bad in (lambda: c.labels("x"), lambda: c.labels("x", b="y"), lambda: c.labels(a="x", z="y"),
                lambda: c.inc(), lambda: c.labels("x", "y").inc(-1)):
        with pytest.raises(ValueError):
            bad()
    plain = Gauge("t_g", "g", registry=r)
    with pytest.raises(ValueError):
        plain.labels("x")
    plain.set(3)
    assert plain._value.get() == 3.0
    with pytest.raises(ValueError):
        Counter("t_c", "duplicate of t_c_total", registry=r)
    with pytest.raises(ValueError):
        Histogram("t_h", "h", ["le"])
    with pytest.raises(ValueError):
        Histogram("t_h", "h", buckets=(2, 1))
    h = Histogram("t_h", "h", buckets=(1,), registry=r)
    with pytest.raises(KeyError):
        with h.time():
            raise KeyError("x")
    assert h._sum.get() >= 0 and "t_h_count 1.0" in r.render().decode()
    r.unregister(h)
    assert "t_h" not in r.render().decode()


def test_concurrent_writers_and_renders_lose_nothing():
    r = Registry()
    c = Counter("t_conc_total", "c", ["k"], registry=r)
    h = Histogram("t_conc_h", "h", ["k"], buckets=(0.5,), registry=r)
    stop = threading.Event()
    rendered = []

    def reader():
        while not stop.is_set():
            rendered.append(r.render())

    def writer(n):
        for i in range(20000):
            c.labels(str(i % 3)).inc()
            h.labels(str(n)).observe(0.25)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    rd = threading.Thread(target=reader)
    rd.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    rd.join()
    assert sum(c.labels(str(k))._value.get() for k in range(3)) == 80000
    assert all(h.labels(str(n))._sum.get() == 5000 for n in range(4))
    for text in rendered[-3:] + [r.render()]:  # snapshots are consistent: buckets == count
        for f in text_string_to_metric_families(text.decode()):
            if f.name == "t_conc_h":
                by = {(s.name, s.labels.get("k"), s.labels.get("le")): s.value for s in f.samples}
                for n in range(4):
                    assert by[("t_conc_h_count", str(n), None)] == by[("t_conc_h_bucket", str(n), "+Inf")]


def _raw(port: int, data: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_metrics_server_is_robust(monkeypatch, capfd):
    monkeypatch.setattr(metrics_core, "CLIENT_TIMEOUT", 2.0)
    port = free_port()
    secret = "s" * 40
    server, thread = metrics.start_metrics_server(port, secret=secret)
    ok_req = f"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Gemgate-Internal-Secret: {secret}\r\n\r\n".encode()
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]  # never send anything
    try:
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and stalls mid-head
        t0 = time.monotonic()
        answer = _raw(port, ok_req)
        assert time.monotonic() - t0 < 1.0  # stalled clients never delay a scrape
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and b"text/plain; version=0.0.4; charset=utf-8" in head
        assert b"Content-Length: %d" % len(body) in head and b"# TYPE gemgate_requests_total counter" in body
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", headers={metrics.SECRET_HEADER: secret}).text \
            .startswith("# HELP ")
        unauth = _raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert unauth.startswith(b"HTTP/1.1 401 ") and unauth.endswith(b"\r\n\r\n") and b"Content-Length: 0" in unauth
        assert _raw(port, ok_req.replace(secret.encode(), b"s" * 39)).startswith(b"HTTP/1.1 401 ")
        assert _raw(port, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert _raw(port, b"POST /metrics HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 501 ")
        assert _raw(port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000).startswith(b"HTTP/1.1 431 ")
        half.settimeout(3)
        assert half.recv(10) == b""  # dropped after CLIENT_TIMEOUT
        half.close()
        many = [socket.create_connection(("127.0.0.1", port)) for _ in range(metrics_core.MAX_CLIENTS + 5)]
        assert _raw(port, ok_req).startswith(b"HTTP/1.1 200 ")  # the stalest idle ones made room
        for s in many:
            s.close()
    finally:
        for s in silent:
            s.close()
        server.shutdown()
    assert not thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no access log


def test_metrics_server_never_blocks_the_event_loop():
    import asyncio

    async def main():
        port = free_port()
        server, _ = metrics.start_metrics_server(port)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)  # a silent client
            ticks = 0
            for _ in range(10):
                await asyncio.sleep(0.01)
                ticks += 1
            body = await metrics.fetch_expositions([f"http://127.0.0.1:{port}/metrics"], timeout=2)
            writer.close()
            return ticks, body
        finally:
            server.shutdown()

    ticks, [body] = asyncio.run(main())
    assert ticks == 10 and b"gemgate_requests_total" in body


def test_product_imports_neither_prometheus_client_nor_http_server():
    code = ("import sys, gemgate.metrics; bad = [m for m in ('prometheus_client', 'http.server', 'wsgiref', "
            "'email', 'socketserver') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
