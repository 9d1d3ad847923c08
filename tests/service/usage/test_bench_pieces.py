"""The benchmark's pieces in isolation: mock upstream, load generator, stats, report, /proc helpers.
(The full `python -m bench` run needs the gemgate CLI and is run by hand / `make bench`.)"""

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from bench import procs
from bench.gateway import bench_config
from gemgate.ports import ephemeral_range, free_port_block
from bench.loadgen import Target, run_load
from bench.mock_upstream import MockGemini, MockSettings
from bench.report import Report, Row, render
from bench.stats import Sample, added, percentile, summarize
from gemgate.config import parse_config


@pytest.fixture
async def mock():
    m = await MockGemini(MockSettings(latency=0.0, chunks=4)).start()
    yield m
    await m.close()


async def test_mock_unary_and_stream(mock):
    base = f"http://127.0.0.1:{mock.port}/v1beta/models/m1"
    async with httpx.AsyncClient() as c:
        r = await c.post(f"{base}:generateContent", json={"contents": []})
        body = r.json()
        assert r.status_code == 200 and body["candidates"][0]["finishReason"] == "STOP"
        assert body["usageMetadata"]["candidatesTokenCount"] == 4 and body["modelVersion"] == "m1"
        events = []
        async with c.stream("POST", f"{base}:streamGenerateContent?alt=sse", json={}) as s:
            assert s.headers["content-type"] == "text/event-stream"
            async for line in s.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
        assert len(events) == 4
        assert "usageMetadata" in events[-1] and events[-1]["candidates"][0]["finishReason"] == "STOP"
        assert "finishReason" not in events[0]["candidates"][0]
        r = await c.post(f"{base}:embedContent", json={})
        assert r.json()["embedding"]["values"]
        assert (await c.get(f"http://127.0.0.1:{mock.port}/x")).status_code == 404
    assert mock.requests == 4  # unary, stream, embed, 404 — over pooled keep-alive connections


async def test_mock_latency_and_chunk_interval():
    m = await MockGemini(MockSettings(latency=0.05, chunks=3, chunk_interval=0.02)).start()
    try:
        t = Target("d", f"http://127.0.0.1:{m.port}", "gemini", "m")
        samples, _ = await run_load(t, concurrency=1, requests=2, max_duration=5, stream=True)
        assert all(s.ok for s in samples)
        assert all(0.05 <= s.ttft < s.latency for s in samples)
        assert all(s.latency >= 0.09 for s in samples)
    finally:
        await m.close()


async def test_load_generator_bounded_by_count_and_duration(mock):
    t = Target("direct", f"http://127.0.0.1:{mock.port}", "gemini", "m")
    samples, elapsed = await run_load(t, concurrency=8, requests=200, max_duration=10)
    assert len(samples) == 200 and all(s.ok for s in samples) and mock.requests == 200
    summary = summarize(samples, elapsed)
    assert summary.rps > 50 and summary.p50 <= summary.p99
    slow = await MockGemini(MockSettings(latency=0.2)).start()
    try:
        t0 = time.perf_counter()
        s2, _ = await run_load(Target("s", f"http://127.0.0.1:{slow.port}", "gemini", "m"),
                               concurrency=2, requests=1000, max_duration=0.5)
        assert time.perf_counter() - t0 < 1.5 and len(s2) < 20
    finally:
        await slow.close()


async def test_load_generator_refuses_non_loopback():
    with pytest.raises(ValueError, match="loopback"):
        await run_load(Target("x", "http://example.com", "openai", "m"), concurrency=1, requests=1, max_duration=1)


def test_openai_target_shape():
    url, body = Target("g", "http://127.0.0.1:1", "openai", "grp", {"Authorization": "Bearer k"}).request(True)
    assert url.endswith("/v1/chat/completions") and body["stream"] is True and body["model"] == "grp"


def test_stats():
    assert percentile([], 50) is None
    vals = [i / 100 for i in range(1, 101)]
    assert percentile(vals, 50) == 0.5 and percentile(vals, 99) == 0.99 and percentile([3.0], 99) == 3.0
    s = summarize([Sample(True, 0.1, 0.05), Sample(True, 0.3, 0.07), Sample(False, 9.0)], elapsed=2.0)
    assert (s.requests, s.errors, s.rps, s.p50, s.p99, s.ttft_p50) == (3, 1, 1.0, 0.1, 0.3, 0.05)
    assert added(0.012, 0.010) == pytest.approx(0.002) and added(None, 1.0) is None


def test_report_table():
    rep = Report(rows=[Row("direct", rps=5000, p50_c1=0.001, p99_c1=0.002),
                       Row("gemgate, no keys", rps=900, p50_c1=0.004, added_p50_c1=0.003),
                       Row("gemgate, virtual key", note="n/a: /key/generate unavailable")],
                 memory={"rest_facade": 81920, "router_service": None}, settings={"mode": "quick"})
    text = render(rep)
    lines = text.splitlines()
    header = next(l for l in lines if l.startswith("| target"))
    assert header.count("|") == lines[lines.index(header) + 1].count("|")
    assert "| direct | 5000 | 1.00 | 2.00 |" in text
    assert "| 3.00 |" in text and "n/a: /key/generate unavailable" in text
    assert "| rest_facade | 80.0 |" in text and "| router_service | n/a |" in text


def test_bench_config_is_a_valid_gateway_config():
    cfg = parse_config(bench_config("http://127.0.0.1:9", master_key="sk-bench"), environ={})
    assert cfg.model_list[0].litellm_params.api_base == "http://127.0.0.1:9/v1beta"
    assert cfg.general_settings.master_key == "sk-bench"


def test_free_port_block_is_bindable_outside_the_ephemeral_range_and_never_repeated():
    low, high = ephemeral_range()
    seen = set()
    for _ in range(50):
        p = free_port_block(3)
        block = set(range(p, p + 3))
        assert not block & seen
        assert all(not low <= q <= high for q in block)
        seen |= block
    with socket.socket() as s:
        s.bind(("127.0.0.1", p + 1))  # still free: handing it out did not keep it bound


def test_proc_helpers_on_a_real_child():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.1)
        assert child.pid in procs.children(os.getpid())
        assert child.pid in procs.descendants(os.getpid())
        assert procs.rss_kib(child.pid) > 1000
        assert "time.sleep" in procs.process_name(child.pid)
    finally:
        child.kill()
        child.wait()
    assert procs.rss_kib(child.pid) is None
    split = procs.cpu_split()
    if split:
        a, b = split
        assert a.isdisjoint(b)


def test_mock_upstream_cli_starts_and_serves():
    proc = subprocess.Popen([sys.executable, "-m", "bench.mock_upstream", "--port", "0", "--chunks", "2"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1:" in line
        port = int(line.rsplit(":", 1)[1])
        r = httpx.post(f"http://127.0.0.1:{port}/v1beta/models/m:generateContent", json={})
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(5)


def test_bench_database_url_keeps_the_run_in_its_own_schema():
    from bench.database import BenchDatabase

    db = BenchDatabase("postgresql://postgres@127.0.0.1:5432/test")
    assert db.gateway_url == f"postgresql://postgres@127.0.0.1:5432/test?search_path={db.schema}"
    assert BenchDatabase("postgresql://h/d?sslmode=disable").gateway_url.startswith("postgresql://h/d?sslmode=disable&search_path=")
