"""Management REST routes over a real BudgetService gRPC server and real Redis."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gemgate.errors import GatewayError
from gemgate.v1 import budget_pb2
from rest_facade.routes import management
from tests.service.budget.conftest import MASTER

M = {"Authorization": f"Bearer {MASTER}"}


def make_app(stub) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(GatewayError)
    async def _h(_: Request, err: GatewayError):
        return JSONResponse(err.openai_body(), status_code=err.kind.info.http_status)

    app.include_router(management.router)
    app.state.budget = stub
    return app


async def test_management_routes(budget):
    stub = budget.stub()
    app = make_app(stub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/team/new", headers=M, json={"team_id": "eng", "team_alias": "Engineering", "max_budget": 10})
        assert r.status_code == 200, r.text
        assert r.json()["team_id"] == "eng" and r.json()["max_budget"] == 10

        r = await c.post("/key/generate", headers=M, json={
            "models": ["gpt"], "max_budget": 0.002, "budget_duration": "30d", "key_alias": "ci", "team_id": "eng",
            "user_id": "alice", "metadata": {"env": "test"}, "rpm_limit": 100, "duration": "30d"})
        assert r.status_code == 200, r.text
        g = r.json()
        key = g["key"]
        assert key.startswith("sk-") and g["key_alias"] == "ci" and g["max_budget"] == 0.002
        assert g["metadata"] == {"env": "test"} and g["rpm_limit"] == 100 and g["tpm_limit"] is None
        assert g["expires"] and g["token"] and g["key_name"].endswith(key[-4:])

        # spend something through the admission path
        await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="x", model="gpt", estimated_cost_micros=1500))
        await stub.Settle(budget_pb2.SettleRequest(request_id="x", actual_cost_micros=1000, model="gpt"))

        r = await c.get("/key/info", params={"key": key}, headers=M)
        assert r.status_code == 200 and r.json()["info"]["spend"] == 0.001
        r = await c.get("/key/info", headers={"x-litellm-api-key": key})  # own key, no ?key=
        assert r.status_code == 200 and r.json()["info"]["key_alias"] == "ci"

        r = await c.post("/key/update", headers=M, json={"key": key, "max_budget": 0.0015, "tpm_limit": 1000})
        assert r.status_code == 200 and r.json()["max_budget"] == 0.0015 and r.json()["tpm_limit"] == 1000
        # unknown field -> 400 in the OpenAI envelope
        r = await c.post("/key/update", headers=M, json={"key": key, "max_budgte": 1})
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
        assert "max_budgte" in r.json()["error"]["message"]

        # exceeding the budget: 429 budget_exceeded naming the key alias
        r2 = await c.post("/key/block", headers=M, json={"key": key})
        assert r2.json()["blocked"] is True
        r2 = await c.post("/key/unblock", headers=M, json={"key": key})
        assert r2.json()["blocked"] is False

        r = await c.get("/key/list", headers=M)
        assert r.json()["keys"] == [g["token"]]
        r = await c.get("/team/info", params={"team_id": "eng"}, headers=M)
        assert r.json()["team_info"]["spend"] == 0.001 and r.json()["keys"][0]["key_alias"] == "ci"
        r = await c.post("/team/update", headers=M, json={"team_id": "eng", "rpm_limit": 50})
        assert r.json()["rpm_limit"] == 50
        r = await c.post("/user/new", headers=M, json={"user_id": "bob", "max_budget": 1})
        assert r.status_code == 200 and r.json()["user_id"] == "bob"
        r = await c.get("/user/info", params={"user_id": "alice"}, headers=M)
        assert r.json()["user_info"]["spend"] == 0.001

        assert (await c.get("/global/spend", headers=M)).json()["spend"] == 0.001
        assert (await c.get("/global/spend/models", headers=M)).json() == [{"model": "gpt", "total_spend": 0.001}]
        gk = (await c.get("/global/spend/keys", headers=M)).json()
        assert gk[0]["api_key"] == g["token"] and gk[0]["total_spend"] == 0.001
        sk = (await c.get("/spend/keys", headers=M)).json()
        assert sk[0]["key_alias"] == "ci" and sk[0]["spend"] == 0.001
        su = {u["user_id"]: u for u in (await c.get("/spend/users", headers=M)).json()}
        assert su["alice"]["spend"] == 0.001 and su["bob"]["max_budget"] == 1

        r = await c.post("/key/regenerate", headers=M, json={"key": key})
        new = r.json()["key"]
        assert new != key
        r = await c.get("/key/info", params={"key": key}, headers=M)
        assert r.status_code == 404

        # non-master caller -> 403; no caller -> 401
        r = await c.post("/key/generate", headers={"Authorization": f"Bearer {new}"}, json={})
        assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
        r = await c.post("/key/generate", json={})
        assert r.status_code == 401

        r = await c.post("/key/delete", headers=M, json={"keys": [new]})
        assert r.json() == {"deleted_keys": [new]}
        r = await c.get("/key/info", headers={"Authorization": f"Bearer {new}"})
        assert r.status_code == 401 and new not in r.text

