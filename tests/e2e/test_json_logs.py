"""Issue 11: with `litellm_settings.json_logs: true` every line the real CLI prints (its own lines,
the facade with uvicorn, the router and budget services, gRPC's C-core logging, a crashed child
being restarted) is one JSON object, through one formatter."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config

MASTER = "sk-master-json-logs-0123456789abcdef"


def _child_pid(gw, name: str) -> int:
    for child in Path(f"/proc/{gw.proc.pid}/task/{gw.proc.pid}/children").read_text().split():
        if name.encode() in Path(f"/proc/{child}/cmdline").read_bytes():
            return int(child)
    raise AssertionError(f"no {name} child")


def test_every_line_of_every_process_is_one_json_object(fake_gemini_server, tmp_path):
    config = gemini_config(fake_gemini_server.base_url, master_key=MASTER)
    config["litellm_settings"] = {"json_logs": True, "set_verbose": True}
    cfg = write_config(tmp_path, config)
    # GRPC_VERBOSITY makes gRPC's C core print its own (non-Python) log lines on stderr
    gw = start_gateway(cfg, tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY, "GRPC_VERBOSITY": "info"})
    try:
        auth = {"Authorization": f"Bearer {MASTER}"}
        chat = {"model": "flash", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(f"{gw.base_url}/v1/chat/completions", json=chat, headers=auth, timeout=30).status_code == 200
        assert httpx.post(f"{gw.base_url}/v1/chat/completions", json={**chat, "model": "down"}, headers=auth, timeout=30).status_code >= 500
        assert httpx.post(f"{gw.base_url}/v1/chat/completions", content=b"{", headers=auth, timeout=30).status_code == 400
        os.kill(_child_pid(gw, "router_service"), signal.SIGKILL)  # the supervisor logs the crash and the restart
        deadline = time.monotonic() + 30
        while "router_service is ready again" not in gw.log() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        assert gw.stop() == 0, gw.log()
    lines = [line for line in gw.log().splitlines() if line.strip()]
    bad = []
    records = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or not {"time", "service", "level", "logger", "message"} <= set(obj):
            bad.append(line)
        else:
            records.append(obj)
    assert not bad, f"{len(bad)} of {len(lines)} lines are not JSON log objects:\n" + "\n".join(bad[:20])
    services = {r["service"] for r in records}
    assert {"cli", "facade", "router", "budget"} <= services, services
    assert any(r["logger"].endswith(".output") for r in records), "gRPC C-core lines were not relayed"
    assert any("router_service is ready again" in r["message"] for r in records)
    print(f"\n[issue11] json_logs: {len(lines)} lines, all JSON; services {sorted(services)}")
