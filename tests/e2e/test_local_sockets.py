"""Issue 15: under the gemgate CLI, the hops between its own processes (facade -> router -> budget)
go over local sockets (gemgate/local_sockets.py), not loopback TCP; the TCP ports keep serving
internal clients; the local sockets refuse callers without the internal secret, as TCP does;
GEMGATE_LOCAL_SOCKETS=0 keeps every hop on TCP."""

from __future__ import annotations

import subprocess

import grpc
import httpx
import pytest

from gemgate import internal_auth
from gemgate.supervisor import tcp_sockets
from gemgate.v1 import budget_pb2, budget_pb2_grpc, router_pb2, router_pb2_grpc
from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config

MASTER = "sk-local-sockets-test-0123456789-abcdefghij"
CHAT = {"model": "flash", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 10}


def children(cli_pid: int) -> dict[str, dict]:
    """service -> {pid, argv} of the CLI's children (one worker each)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(cli_pid)], capture_output=True, text=True).stdout
    found = {}
    for pid in map(int, out.split()):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode().split("\0")
        if argv[1:2] == ["-m"]:
            found[argv[2]] = {"pid": pid, "argv": argv}
    return found


def flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def traffic(gw) -> None:
    """Keyed requests: facade -> router -> budget on every one."""
    r = httpx.post(f"{gw.base_url}/key/generate", json={"max_budget": 1.0}, timeout=10,
                   headers={"Authorization": f"Bearer {MASTER}"})
    assert r.status_code == 200, r.text
    key = r.json()["key"]
    for stream in (False, True):
        r = httpx.post(f"{gw.base_url}/v1/chat/completions", json={**CHAT, "stream": stream}, timeout=15,
                       headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text


def accepted_tcp(gw, kids) -> dict[str, int]:
    """Established connections each internal service accepted on its TCP port."""
    return {"router": tcp_sockets(kids["router_service"]["pid"], gw.router_port, "01"),
            "budget": tcp_sockets(kids["budget_service"]["pid"], gw.budget_port, "01")}


@pytest.fixture(scope="module")
def config_path(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local-sockets")
    return write_config(tmp, gemini_config(fake_gemini_server.base_url, master_key=MASTER)), tmp


def test_internal_hops_use_local_sockets_and_tcp_still_serves(config_path, fake_gemini):
    path, tmp = config_path
    gw = start_gateway(path, tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    try:
        kids = children(gw.proc.pid)
        budget_local = flag(kids["budget_service"]["argv"], "--local-address")
        router_local = flag(kids["router_service"]["argv"], "--local-address")
        assert budget_local.startswith("unix-abstract:gemgate-") and router_local.startswith("unix-abstract:gemgate-")
        assert flag(kids["router_service"]["argv"], "--budget") == budget_local
        assert flag(kids["rest_facade"]["argv"], "--router") == router_local
        assert flag(kids["rest_facade"]["argv"], "--budget") == budget_local
        traffic(gw)
        assert accepted_tcp(gw, kids) == {"router": 0, "budget": 0}  # nothing of ours went over TCP

        md = gw.internal_metadata
        for address in (router_local, gw.router_address):  # the TCP port still serves internal clients
            with grpc.insecure_channel(address) as ch:
                stub = router_pb2_grpc.RouterServiceStub(ch)
                models = stub.ListModels(router_pb2.ListModelsRequest(), timeout=5,
                                         metadata=(*md, ("authorization", f"Bearer {MASTER}")))
                assert "flash" in [m.id for m in models.data]
        for address, call in ((router_local, lambda ch: router_pb2_grpc.RouterServiceStub(ch).ListModels(
                                  router_pb2.ListModelsRequest(), timeout=5)),
                              (budget_local, lambda ch: budget_pb2_grpc.BudgetServiceStub(ch).Authorize(
                                  budget_pb2.AuthorizeRequest(api_key=MASTER), timeout=5))):
            with grpc.insecure_channel(address) as ch:  # no internal secret: refused, as on TCP
                with pytest.raises(grpc.RpcError) as exc:
                    call(ch)
                assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with grpc.insecure_channel(budget_local) as ch:
            ok = budget_pb2_grpc.BudgetServiceStub(ch).Authorize(budget_pb2.AuthorizeRequest(api_key=MASTER),
                                                                  timeout=5, metadata=md)
            assert ok.identity.is_master
    finally:
        assert gw.stop() == 0, gw.log()
    with pytest.raises(grpc.RpcError) as exc:  # the names die with their processes
        with grpc.insecure_channel(router_local) as ch:
            router_pb2_grpc.RouterServiceStub(ch).ListModels(router_pb2.ListModelsRequest(), timeout=1, metadata=md)
    assert exc.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_local_sockets_off_keeps_tcp(config_path, fake_gemini):
    path, tmp = config_path
    gw = start_gateway(path, tmp, env={"FAKE_GEMINI_KEY": TEST_KEY, "GEMGATE_LOCAL_SOCKETS": "0"})
    try:
        kids = children(gw.proc.pid)
        assert "--local-address" not in kids["router_service"]["argv"]
        assert flag(kids["rest_facade"]["argv"], "--router") == gw.router_address
        traffic(gw)
        held = accepted_tcp(gw, kids)
        assert held["router"] >= 1 and held["budget"] >= 1, held
    finally:
        assert gw.stop() == 0, gw.log()
