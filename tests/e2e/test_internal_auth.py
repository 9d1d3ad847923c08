"""Issue 10 item 7: router_service and budget_service refuse callers without the internal credential
(health stays open); a stranger on the budget port cannot reserve, settle or read anything."""

from __future__ import annotations

import threading
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gemgate import internal_auth
from gemgate.v1 import budget_pb2, budget_pb2_grpc, router_pb2, router_pb2_grpc
from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config

MASTER = "sk-internal-auth-test-0123456789-abcdefghijkl"
WRONG = (("x-gemgate-internal-secret", "w" * 43),)


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("internal-auth")
    gateway = start_gateway(write_config(tmp, gemini_config(fake_gemini_server.base_url, master_key=MASTER)), tmp,
                            env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def admin(gw, path, body=None, method="POST"):
    r = httpx.request(method, f"{gw.base_url}{path}", json=body, headers={"Authorization": f"Bearer {MASTER}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def unauthenticated(fn, *args, **kw) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        fn(*args, timeout=5, **kw)
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED, exc.value
    assert "x-gemgate-internal-secret" in exc.value.details()


def test_budget_service_refuses_strangers(gw, fake_gemini):
    key = admin(gw, "/key/generate", {"max_budget": 1.0})["key"]
    budget_addr = f"127.0.0.1:{gw.budget_port}"
    # the victim's request is in flight (slow upstream) under a known client request id
    fake_gemini.enqueue("gemini-2.5-flash", {"delay": 1.0})
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", httpx.post(
        f"{gw.base_url}/v1/chat/completions", timeout=20,
        headers={"Authorization": f"Bearer {key}", "x-request-id": "victim-request"},
        json={"model": "flash", "messages": [{"role": "user", "content": "pay for me"}]})))
    t.start()
    with grpc.insecure_channel(budget_addr) as ch:
        stub = budget_pb2_grpc.BudgetServiceStub(ch)
        for md in ((), WRONG):
            unauthenticated(stub.Settle, budget_pb2.SettleRequest(request_id="victim-request", actual_cost_micros=0,
                                                                  model="flash", success=True), metadata=md)
            unauthenticated(stub.Reserve, budget_pb2.ReserveRequest(api_key=key, request_id="stranger", model="flash",
                                                                    estimated_cost_micros=1), metadata=md)
            unauthenticated(stub.Authorize, budget_pb2.AuthorizeRequest(api_key=MASTER), metadata=md)
            unauthenticated(stub.GenerateKey, budget_pb2.GenerateKeyRequest(api_key=MASTER), metadata=md)
            unauthenticated(stub.Spend, budget_pb2.SpendRequest(api_key=MASTER), metadata=md)
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="gemgate.v1.BudgetService"), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        # with the credential the same channel works (documented for internal callers)
        ident = stub.Authorize(budget_pb2.AuthorizeRequest(api_key=MASTER), metadata=gw.internal_metadata, timeout=5)
        assert ident.identity.is_master
    t.join(20)
    r = out["r"]
    assert r.status_code == 200, r.text
    cost = float(r.headers["x-gemgate-response-cost"])
    assert cost > 0
    deadline = time.monotonic() + 10
    while (spend := admin(gw, f"/key/info?key={key}", method="GET")["info"]["spend"]) != pytest.approx(cost, abs=1e-6):
        assert time.monotonic() < deadline, f"spend {spend} != cost {cost}"
        time.sleep(0.05)


def test_router_service_refuses_strangers(gw, fake_gemini):
    with grpc.insecure_channel(gw.router_address) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        req = router_pb2.ChatCompletionRequest(model="flash", messages=[router_pb2.Message(role="user", text="hi")])
        for md in ((("authorization", f"Bearer {MASTER}"),), (("authorization", f"Bearer {MASTER}"), *WRONG)):
            unauthenticated(stub.ChatCompletion, req, metadata=md)
            with pytest.raises(grpc.RpcError) as exc:
                list(stub.StreamChatCompletion(req, metadata=md, timeout=5))
            assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
            unauthenticated(stub.ListModels, router_pb2.ListModelsRequest(), metadata=md)
        assert fake_gemini.requests == []
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="gemgate.v1.RouterService"), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        # the credential alone is not enough for the router: the caller's key is still checked
        with pytest.raises(grpc.RpcError) as exc:
            stub.ChatCompletion(req, metadata=gw.internal_metadata, timeout=5)
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED and "API key" in exc.value.details()
        ok = stub.ChatCompletion(req, metadata=(("authorization", f"Bearer {MASTER}"), *gw.internal_metadata), timeout=10)
        assert ok.choices[0].message.text == "echo: hi"


def test_secret_is_never_logged(gw):
    assert gw.internal_secret not in gw.log()


def test_secret_rules():
    with pytest.raises(internal_auth.SecretError, match="GEMGATE_INTERNAL_SECRET"):
        internal_auth.require(environ={})
    with pytest.raises(internal_auth.SecretError, match="too short"):
        internal_auth.require(environ={internal_auth.ENV: "short"})
    assert internal_auth.require(environ={internal_auth.ENV: "s" * 32}) == "s" * 32
    assert internal_auth.matches("a" * 32, [(internal_auth.METADATA_KEY, "a" * 32)])
    assert not internal_auth.matches("a" * 32, [(internal_auth.METADATA_KEY, "a" * 31)])
    assert not internal_auth.matches("a" * 32, [])
