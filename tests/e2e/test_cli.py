"""The `gemgate` CLI: startup errors, master key, clean shutdown, direct gRPC access."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc
import httpx
import openai
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from gemgate.v1 import router_pb2, router_pb2_grpc
from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import ROOT, start_gateway, write_config

MASTER = "sk-master-test-0123456789"


def run_cli(config_path, timeout=30):
    return subprocess.run([sys.executable, "-m", "gemgate.cli", "--config", str(config_path), "--port", "1"],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_invalid_config_names_the_field(tmp_path):
    cfg = write_config(tmp_path, {"model_list": [{"model_name": "m", "litellm_params": {"model": "gemini/x", "temprature": 1}}]})
    res = run_cli(cfg)
    assert res.returncode != 0
    assert "model_list[0].litellm_params.temprature" in res.stderr
    assert "Traceback" not in res.stderr


def test_missing_env_var_is_named(tmp_path):
    cfg = write_config(tmp_path, {"model_list": [{"model_name": "m", "litellm_params": {"model": "gemini/x", "api_key": "os.environ/GEMGATE_SURELY_UNSET"}}]})
    res = run_cli(cfg)
    assert res.returncode != 0
    assert "GEMGATE_SURELY_UNSET" in res.stderr and "model_list[0].litellm_params.api_key" in res.stderr


def test_unknown_provider_and_missing_file(tmp_path):
    cfg = write_config(tmp_path, {"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/gpt-4o"}}]})
    res = run_cli(cfg)
    assert res.returncode != 0 and "unsupported provider" in res.stderr
    res = run_cli(tmp_path / "nope.yaml")
    assert res.returncode != 0 and "cannot read config file" in res.stderr


@pytest.fixture(scope="module")
def keyed_gateway(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keyed")
    cfg = write_config(tmp, gemini_config(fake_gemini_server.base_url, master_key=MASTER))
    gw = start_gateway(cfg, tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gw
    assert gw.stop() == 0, gw.log()


def test_master_key_required(keyed_gateway, fake_gemini):
    url = f"{keyed_gateway.base_url}/v1"
    for key in ("wrong", "sk-master-test-012345678"):
        with pytest.raises(openai.AuthenticationError) as exc:
            openai.OpenAI(base_url=url, api_key=key, max_retries=0).chat.completions.create(
                model="flash", messages=[{"role": "user", "content": "hi"}])
        assert key not in exc.value.message
    r = httpx.post(f"{url}/chat/completions", json={"model": "flash", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"
    assert httpx.get(f"{url}/models").status_code == 401
    assert fake_gemini.requests == []
    ok = openai.OpenAI(base_url=url, api_key=MASTER, max_retries=0)
    assert ok.chat.completions.create(model="flash", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content == "echo: hi"
    assert [m.id for m in ok.models.list()][0] == "flash"
    r = httpx.post(f"{url}/chat/completions", headers={"x-litellm-api-key": MASTER},
                   json={"model": "flash", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200
    assert MASTER not in keyed_gateway.log()


def test_grpc_direct(keyed_gateway, fake_gemini):
    internal = keyed_gateway.internal_metadata
    with grpc.insecure_channel(keyed_gateway.router_address) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        req = router_pb2.ChatCompletionRequest(model="flash", messages=[router_pb2.Message(role="user", text="via grpc")])
        with pytest.raises(grpc.RpcError) as exc:
            stub.ChatCompletion(req, metadata=internal, timeout=10)
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        md = (("authorization", f"Bearer {MASTER}"), *internal)
        resp, call = stub.ChatCompletion.with_call(req, metadata=md, timeout=10)
        assert resp.choices[0].message.text == "echo: via grpc"
        assert resp.usage.total_tokens > 0
        assert dict(call.trailing_metadata())["x-gemgate-model-group"] == "flash"
        stream_req = router_pb2.ChatCompletionRequest(model="flash", messages=[router_pb2.Message(role="user", text="s")],
                                                      stream_options=router_pb2.StreamOptions(include_usage=True))
        chunks = list(stub.StreamChatCompletion(stream_req, metadata=md, timeout=10))
        assert "".join(c.choices[0].delta.content for c in chunks if c.choices) == "echo: s"
        assert chunks[-1].usage.total_tokens > 0
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="gemgate.v1.RouterService"))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        answer = next(refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                metadata=internal))
        names = {s.name for s in answer.list_services_response.service}
        assert {"gemgate.v1.RouterService", "grpc.health.v1.Health"} <= names


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_all_processes(fake_gemini_server, tmp_path, sig):
    cfg = write_config(tmp_path, gemini_config(fake_gemini_server.base_url))
    gw = start_gateway(cfg, tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY})
    kids = _children(gw.proc.pid)
    assert len(kids) == 3
    gw.proc.send_signal(sig)
    assert gw.proc.wait(20) == 0
    time.sleep(0.2)
    for pid in kids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_child_death_stops_gateway_with_exit_on_child_crash(fake_gemini_server, tmp_path):
    from tests.e2e.test_supervision import children

    cfg = write_config(tmp_path, gemini_config(fake_gemini_server.base_url))
    gw = start_gateway(cfg, tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY}, args=["--exit-on-child-crash"])
    kids = children(gw.proc.pid)
    os.kill(kids["router_service"], signal.SIGKILL)  # the router dies
    assert gw.proc.wait(60) == 1, gw.log()
    assert "router_service exited unexpectedly (killed by SIGKILL); stopping (--exit-on-child-crash)" in gw.log()
    for pid in kids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_the_cli_process_becomes_the_small_supervisor(fake_gemini_server, tmp_path):
    """After checking the config the CLI replaces itself (same pid) with gemgate.supervise, which
    loads neither gRPC nor pydantic: the long-lived parent stays small."""
    cfg = write_config(tmp_path, gemini_config(fake_gemini_server.base_url))
    gw = start_gateway(cfg, tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY})
    try:
        cmdline = open(f"/proc/{gw.proc.pid}/cmdline", "rb").read().split(b"\0")
        assert b"gemgate.supervise" in cmdline, cmdline
        maps = open(f"/proc/{gw.proc.pid}/maps").read()
        assert "cygrpc" not in maps and "pydantic_core" not in maps
        assert b"GEMGATE_INTERNAL_SECRET" not in b" ".join(cmdline)  # the plan travels in the environment
        assert len(_children(gw.proc.pid)) == 3
    finally:
        assert gw.stop() == 0
