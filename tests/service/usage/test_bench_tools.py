"""The benchmark's external tools: wrk (script + output parsing, a real run), the nginx mock of Gemini,
the issue-#15 targets table, the LiteLLM peer's venv rules. wrk/nginx runs need those binaries (the
parsing and config tests do not)."""

import asyncio
import json

import httpx
import pytest

from bench import procs
from bench.loadgen import Target, gemini_body, openai_body
from bench.measure import QUICK, Loader, measure
from bench.mock_upstream import MockGemini, MockSettings, sse_event, unary_body
from bench.nginx_mock import find_nginx, nginx_config, start_upstream
from bench.report import KEYED, NO_KEYS, PEER, Report, Row, render
from bench.wrk import find_wrk, lua_script, parse_output, run_wrk

WRK_OUT = """Running 5s test @ http://127.0.0.1:4000/v1/chat/completions
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.01ms    3.20ms  60.12ms   90.00%
    Req/Sec     2.61k   200.00     2.90k    80.00%
  Latency Distribution
     50%  640.00us
     75%    1.20ms
     90%    2.50ms
     99%    1.02s
  13050 requests in 5.00s, 9.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   2609.87
Transfer/sec:      1.82MB
"""

needs_wrk = pytest.mark.skipif(find_wrk() is None, reason="wrk is not installed (the Python load generator is used)")
needs_nginx = pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (the Python mock is used)")


def test_parse_wrk_output_units_and_errors():
    r = parse_output(WRK_OUT)
    assert (r.requests, r.duration, r.rps) == (13050, 5.0, 2609.87)
    assert r.p50 == pytest.approx(640e-6) and r.p99 == pytest.approx(1.02)
    assert r.non2xx == 7 and r.socket_errors == {"connect": 0, "read": 2, "write": 0, "timeout": 1}
    assert r.errors == 10 and r.error_text() == "7 non-2xx, 2 socket read, 1 socket timeout"
    clean = parse_output(WRK_OUT.replace("  Socket errors: connect 0, read 2, write 0, timeout 1\n", "")
                         .replace("  Non-2xx or 3xx responses: 7\n", ""))
    assert clean.errors == 0 and clean.error_text() == ""
    with pytest.raises(ValueError, match="latency distribution"):
        parse_output(WRK_OUT.replace("     50%  640.00us\n", "").replace("     99%    1.02s\n", ""))
    with pytest.raises(ValueError, match="summary"):
        parse_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_lua_script_posts_the_body_with_headers():
    body = openai_body("grp")
    script = lua_script(body, {"Authorization": "Bearer sk-x"})
    assert 'wrk.method = "POST"' in script and 'wrk.headers["Authorization"] = "Bearer sk-x"' in script
    body_line = next(ln for ln in script.splitlines() if ln.startswith("wrk.body = "))
    assert json.loads(json.loads(body_line.split(" = ", 1)[1])) == body
    assert [m["role"] for m in body["messages"]] == ["system", "user"] and body["max_tokens"] == 64
    g = gemini_body()
    assert g["systemInstruction"]["parts"][0]["text"] and g["generationConfig"]["maxOutputTokens"] == 64


class Recorder:
    """A loopback HTTP/1.1 server that keeps every request's head and body; answers 200 or 404."""

    def __init__(self, status: int = 200) -> None:
        self.status, self.seen = status, []

    async def start(self):
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _conn(self, reader, writer):
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                n = int(next((ln.split(":", 1)[1] for ln in head.split("\r\n") if ln.lower().startswith("content-length")), 0))
                self.seen.append((head, await reader.readexactly(n)))
                reason = b"OK" if self.status == 200 else b"Not Found"
                writer.write(b"HTTP/1.1 %d %s\r\ncontent-length: 2\r\n\r\n{}" % (self.status, reason))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@needs_wrk
async def test_wrk_run_sends_the_body_and_counts_non_2xx():
    ok = await Recorder().start()
    bad = await Recorder(404).start()
    try:
        body = openai_body("grp")
        r = await run_wrk(find_wrk(), ok.url + "/v1/chat/completions", body, {"Authorization": "Bearer k"},
                          connections=2, duration=1)
        assert r.requests > 10 and r.errors == 0 and r.p50 is not None and r.rps > 0
        head, sent = ok.seen[0]
        assert head.startswith("POST /v1/chat/completions ") and "Authorization: Bearer k" in head
        assert json.loads(sent) == body
        r404 = await run_wrk(find_wrk(), bad.url + "/x", body, {}, connections=1, duration=1)
        assert r404.non2xx == r404.requests > 0 and r404.errors == r404.requests
    finally:
        ok.server.close()
        bad.server.close()


async def test_a_row_with_non_2xx_answers_fails_loudly(capsys):
    m = await MockGemini(MockSettings()).start()
    try:  # GET-less path without ':' -> the mock answers 404 to every request
        target = Target("broken", f"http://127.0.0.1:{m.port}", "openai", "grp")
        row = await measure(target, QUICK, Loader("python"))
    finally:
        await m.close()
    assert row.failed and row.errors == 20 and "FAILED" in row.note
    assert "ROW FAILED: broken" in capsys.readouterr().err
    assert Report(rows=[row]).failed


def test_nginx_config_holds_the_python_mocks_answers(tmp_path):
    s = MockSettings(chunks=3)
    conf = nginx_config(tmp_path, 12345, s)
    assert "listen 127.0.0.1:12345" in conf and "daemon off;" in conf and f"pid {tmp_path}/nginx.pid;" in conf
    assert "usageMetadata" in conf and conf.count("data: ") == 3
    with pytest.raises(ValueError, match="latency"):
        nginx_config(tmp_path, 1, MockSettings(latency=0.1))


@needs_nginx
async def test_nginx_mock_serves_fixed_gemini_answers_pinned():
    s = MockSettings(chunks=4)
    split = procs.cpu_split()
    up = start_upstream(s, split[0] if split else None)
    try:
        assert up.kind == "nginx"
        if split:
            import os
            assert os.sched_getaffinity(up.proc.pid) == split[0]
        base = f"{up.url}/v1beta/models/mock-model"
        async with httpx.AsyncClient() as c:
            r = await c.post(f"{base}:generateContent?key=x", json=gemini_body(), headers={"x-goog-api-key": "k"})
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
            assert r.content == unary_body("mock-model", s) and r.json()["usageMetadata"]["totalTokenCount"] == 12
            r = await c.post(f"{base}:streamGenerateContent?alt=sse", json=gemini_body())
            assert r.headers["content-type"] == "text/event-stream"
            assert r.content == b"".join(sse_event("mock-model", s, i) for i in range(4))
            assert (await c.post(f"{up.url}/v1beta/models", json={})).status_code == 404
        assert up.rss_kib() > 0
    finally:
        up.stop()
    assert up.proc.poll() is not None and not up.workdir.exists()


def test_python_mock_is_the_fallback():
    up = start_upstream(MockSettings(latency=0.01))  # nginx cannot delay: the Python mock serves
    try:
        assert up.kind == "python"
        assert httpx.post(f"{up.url}/v1beta/models/m:generateContent", json={}).status_code == 200
    finally:
        up.stop()


def test_targets_table_and_peer_ratios():
    rows = [Row(NO_KEYS, rps=1000, added_p50_c1=0.0008, added_ttft=0.0009),
            Row(KEYED, rps=600, added_p50_c1=0.002, added_ttft=0.0012),
            Row(PEER, rps=100, added_p50_c1=0.02, added_ttft=0.03)]
    rep = Report(rows=rows, memory={"keys: rest_facade": 100 * 1024, "keys: router_service": 80 * 1024},
                 peer_memory={"litellm proxy": 300 * 1024})
    text = render(rep)
    assert "| added p50 at c=1, no keys | 0.80 ms | <= 1.0 ms | yes |" in text
    assert "| added p50 at c=1, virtual key + budget | 2.00 ms | <= 1.5 ms | **NO** |" in text
    assert "| RSS, all gemgate processes (keys) | 180.0 MiB | <= 190 MiB | yes |" in text
    assert "| req/s at c=32: gemgate virtual key + budget / LiteLLM master key | 6.00x | >= 5x | yes |" in text
    assert "| **total, all LiteLLM processes** | **300.0** |" in text
    assert "| RSS total: gemgate (keys) vs LiteLLM | 180.0 vs 300.0 MiB |" in text
    rows[2].failed = True  # a failed peer row gives no ratio
    assert "| req/s at c=32: gemgate virtual key + budget / LiteLLM master key | n/a |" in render(rep)


def test_peer_venv_stays_outside_the_project(monkeypatch, tmp_path):
    from bench import peer

    monkeypatch.setenv("GEMGATE_BENCH_LITELLM_VENV", str(peer.PROJECT / "bench" / "venv"))
    with pytest.raises(RuntimeError, match="outside the project"):
        peer.venv_dir()
    monkeypatch.setenv("GEMGATE_BENCH_LITELLM_VENV", str(tmp_path / "v"))
    assert peer.venv_dir() == (tmp_path / "v").resolve() and peer.installed_version(tmp_path / "v") is None
    cfg = peer.peer_config("http://127.0.0.1:9")
    assert cfg["model_list"][0]["litellm_params"]["api_base"] == "http://127.0.0.1:9/v1beta"
    assert cfg["model_list"][0]["litellm_params"]["model"].startswith("gemini/")
    assert cfg["general_settings"]["master_key"] == peer.PEER_MASTER_KEY


def test_machine_line():
    line = procs.machine()
    assert "CPUs" in line and "Python" in line
