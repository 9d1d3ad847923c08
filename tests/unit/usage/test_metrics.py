import asyncio
import socket

import httpx

from gemgate.ports import free_port
from gemgate import metrics
from router_service.usage.record import UsageRecord


def test_observe_usage_record_updates_families():
    metrics.set_model_groups(["mg-test"])
    r = UsageRecord("r", "mg-test", prompt_tokens=10, completion_tokens=5, response_cost=0.25, key_alias="ka",
                    start_time=1.0, first_token_time=1.2, end_time=2.0)
    metrics.observe_usage_record(r)
    metrics.observe_usage_record(UsageRecord("r2", "mg-test", status="failure", error_type="RATE_LIMIT",
                                             start_time=1.0, end_time=1.5))
    metrics.set_cooldown("dep-1", True)
    metrics.observe_budget_call("UnitTestMethod", 0.002)
    text = metrics.render_metrics().decode()
    assert 'gemgate_requests_total{model_group="mg-test",status="success"} 1.0' in text
    assert 'gemgate_errors_total{type="RATE_LIMIT"}' in text
    assert 'gemgate_tokens_total{key_alias="ka",kind="prompt",model_group="mg-test"} 10.0' in text
    assert 'gemgate_spend_usd_total{key_alias="ka",model_group="mg-test"} 0.25' in text
    assert 'gemgate_time_to_first_token_seconds_count{model_group="mg-test"} 1.0' in text
    assert 'gemgate_deployment_cooldown{deployment="dep-1"} 1.0' in text
    assert 'gemgate_budget_call_latency_seconds_count{method="UnitTestMethod"} 1.0' in text


A = b"""# HELP up_total Requests.
# TYPE up_total counter
up_total{p="a"} 1.0
# HELP lat Latency.
# TYPE lat histogram
lat_bucket{le="1.0"} 2.0
lat_bucket{le="+Inf"} 2.0
lat_sum 0.5
lat_count 2.0
"""
B = b"""# HELP up_total Requests.
# TYPE up_total counter
up_total{p="b"} 3.0
up_total{p="a"} 9.0
# HELP other_g A gauge.
# TYPE other_g gauge
other_g 4.0
"""


def test_merge_expositions_dedupes_help_type_and_sums_series():
    out = metrics.merge_expositions([A, B, b""]).decode()
    assert out.count("# HELP up_total") == 1 and out.count("# TYPE up_total") == 1
    # the same counter series from two processes (two router workers): the gateway-wide total
    assert 'up_total{p="a"} 10.0' in out and 'up_total{p="b"} 3.0' in out and "9.0" not in out
    lines = out.splitlines()
    # samples stay under their family header
    i = lines.index("# TYPE up_total counter")
    assert set(lines[i + 1:i + 3]) == {'up_total{p="a"} 10.0', 'up_total{p="b"} 3.0'}
    assert "lat_count 2.0" in out and "other_g 4.0" in out
    assert metrics.merge_expositions([]) == b""


def test_merge_expositions_across_workers_sums_histograms_and_maxes_gauges():
    w1 = b"""# HELP g Cooling.
# TYPE g gauge
g{d="x"} 1.0
g{d="y"} 0.0
# HELP lat Latency.
# TYPE lat histogram
lat_bucket{le="1.0"} 2.0
lat_bucket{le="+Inf"} 3.0
lat_sum 0.5
lat_count 3.0
# HELP c_created Created.
# TYPE c_created gauge
c_created{p="a"} 1.7e+09
"""
    w2 = w1.replace(b'g{d="x"} 1.0', b'g{d="x"} 0.0').replace(b"1.7e+09", b"1.6e+09")
    out = metrics.merge_expositions([w1, w2]).decode()
    assert 'g{d="x"} 1.0' in out and 'g{d="y"} 0.0' in out  # cooling in either worker: 1, never 2
    assert 'lat_bucket{le="+Inf"} 6.0' in out and "lat_sum 1.0" in out and "lat_count 6.0" in out
    assert 'c_created{p="a"} 1.6e+09' in out
    # a zero-valued unlabelled series of one process never hides another's value
    zero = b"# HELP pending P.\n# TYPE pending gauge\npending 0.0\n"
    assert "pending 7.0" in metrics.merge_expositions([zero, zero.replace(b"0.0", b"7.0")]).decode()


def test_merged_exposition_parses_with_prometheus_parser():
    from prometheus_client.parser import text_string_to_metric_families
    out = metrics.merge_expositions([metrics.render_metrics(), A, B]).decode()
    names = {f.name for f in text_string_to_metric_families(out)}
    assert {"up", "lat", "other_g", "gemgate_requests"} <= names


async def _server(answer):
    """A real local HTTP server: `answer(request_bytes)` -> raw response bytes, or None to hang."""
    async def handle(reader, writer):
        req = await reader.readuntil(b"\r\n\r\n")
        out = answer(req)
        if out is None:
            await asyncio.sleep(30)
        writer.write(out)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/metrics"


async def test_fetch_expositions_tolerates_dead_and_slow_processes():
    seen = []

    def ok(req):
        seen.append(req)
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(B) + B

    def chunked(req):
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n" % len(B[:10]) + B[:10] + b"\r\n" + b"%x\r\n" % len(B[10:]) + B[10:] + b"\r\n0\r\n\r\n")

    servers = [await _server(f) for f in (ok, lambda r: b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nnope",
                                          lambda r: None, chunked)]
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    down = f"http://127.0.0.1:{dead.getsockname()[1]}/metrics"  # bound, not listening: refused
    try:
        urls = [u for _, u in servers]
        got = await metrics.fetch_expositions([urls[0], urls[1], down, urls[2], urls[3]], timeout=0.5, secret="s3")
        assert got == [B, b"", b"", b"", B]
        assert b"x-gemgate-internal-secret: s3" in seen[0].lower()
        merged = await metrics.merged_metrics([urls[0]])
        assert b"other_g 4.0" in merged and b"gemgate_requests_total" in merged
    finally:
        dead.close()
        for srv, _ in servers:
            srv.close()


def test_start_metrics_server_serves_registry():
    port = free_port()
    server, thread = metrics.start_metrics_server(port)
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "gemgate_usage_records_dropped_total" in body or "gemgate_requests_total" in body
    finally:
        server.shutdown()


def test_metrics_server_with_secret_refuses_others():
    port = free_port()
    server, _ = metrics.start_metrics_server(port, secret="s" * 40)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={metrics.SECRET_HEADER: "s" * 39}).status_code == 401
        ok = httpx.get(url, headers={metrics.SECRET_HEADER: "s" * 40})
        assert ok.status_code == 200 and "gemgate_" in ok.text
    finally:
        server.shutdown()


async def test_budget_call_timer_observes_even_on_error():
    import pytest
    before = metrics.BUDGET_CALL_LATENCY.labels("Settle")._sum.get()
    with pytest.raises(RuntimeError):
        with metrics.budget_call_timer("Settle"):
            raise RuntimeError("x")
    text = metrics.render_metrics().decode()
    assert 'gemgate_budget_call_latency_seconds_count{method="Settle"}' in text
    assert metrics.BUDGET_CALL_LATENCY.labels("Settle")._sum.get() >= before


def test_labels_never_take_unvalidated_input():
    metrics.set_model_groups(["mg-known"])
    before = metrics.render_metrics().decode().count("\n")
    for i in range(300):
        metrics.observe_usage_record(UsageRecord(f"r{i}", f"sk-pasted-key-{i}", status="failure",
                                                 error_type=f"Weird{i}Error", start_time=1.0, end_time=1.1))
    text = metrics.render_metrics().decode()
    assert "sk-pasted-key" not in text and "Weird" not in text
    assert 'gemgate_requests_total{model_group="unknown",status="failure"}' in text
    assert text.count("\n") - before < 40  # O(1) new series, not O(requests)


def test_wildcard_groups_label_with_their_pattern():
    metrics.set_model_groups(["gemini/*"])
    assert metrics.group_label("gemini/gemini-2.5-pro") == "gemini/*"
    assert metrics.group_label("gemini/../../etc") == "unknown"  # not a model id the wildcard serves
    assert metrics.group_label("openai/gpt-4o") == "unknown"
