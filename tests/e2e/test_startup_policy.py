"""Issue 10 item 9 through the real CLI: no / weak master key on a public bind refuses to start
unless the dangerous switch says so; on loopback a weak key only warns."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import ROOT, start_gateway, write_config
from tests.fakes.server import free_port

WEAK = "sk-1234"


def run_cli(cfg, *extra, timeout=30):
    return subprocess.run([sys.executable, "-m", "gemgate.cli", "--config", str(cfg), "--port", str(free_port()), *extra],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "FAKE_GEMINI_KEY": TEST_KEY})


def test_no_master_key_on_public_bind_is_refused(tmp_path):
    cfg = write_config(tmp_path, gemini_config("http://127.0.0.1:9"))
    res = run_cli(cfg, "--host", "0.0.0.0")
    assert res.returncode != 0
    assert "refusing to start" in res.stderr and "dangerously_permit_weak_or_unset_master_key" in res.stderr
    assert "--dangerously-permit-weak-or-unset-master-key" in res.stderr and "Traceback" not in res.stderr


def test_weak_master_key_on_public_bind_is_refused(tmp_path):
    cfg = write_config(tmp_path, gemini_config("http://127.0.0.1:9", master_key=WEAK))
    res = run_cli(cfg, "--host", "0.0.0.0")
    assert res.returncode != 0 and "weak" in res.stderr and WEAK not in res.stderr


def test_rest_facade_alone_applies_the_same_rule(tmp_path):
    cfg = write_config(tmp_path, gemini_config("http://127.0.0.1:9"))
    env_secret = {"GEMGATE_INTERNAL_SECRET": "s" * 40}
    res = subprocess.run([sys.executable, "-m", "rest_facade", "--config", str(cfg), "--host", "0.0.0.0",
                          "--port", str(free_port()), "--router", "127.0.0.1:9"],
                         capture_output=True, text=True, timeout=30, cwd=ROOT, env={**os.environ, **env_secret, "FAKE_GEMINI_KEY": TEST_KEY})
    assert res.returncode != 0 and "refusing to start" in res.stderr


def test_switches_allow_it_with_a_warning(fake_gemini_server, tmp_path):
    cfg = gemini_config(fake_gemini_server.base_url, master_key=WEAK)
    cfg["general_settings"]["dangerously_permit_weak_or_unset_master_key"] = True
    gw = start_gateway(write_config(tmp_path, cfg), tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY}, args=["--host", "0.0.0.0"])
    try:
        r = httpx.post(f"{gw.base_url}/v1/chat/completions", headers={"Authorization": f"Bearer {WEAK}"},
                       json={"model": "flash", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
        assert r.status_code == 200
    finally:
        assert gw.stop() == 0
    log = gw.log()
    assert "warning" in log and "started anyway" in log and WEAK not in log
    assert log.count("master_key is weak") == 1  # the CLI warns once, its children stay quiet


def test_weak_key_on_loopback_warns_and_serves(fake_gemini_server, tmp_path):
    cfg = write_config(tmp_path, gemini_config(fake_gemini_server.base_url, master_key=WEAK))
    gw = start_gateway(cfg, tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY})
    try:
        assert httpx.get(f"{gw.base_url}/health/readiness", timeout=5).status_code == 200
    finally:
        assert gw.stop() == 0
    assert "master_key is weak" in gw.log() and "acceptable on loopback only" in gw.log()
