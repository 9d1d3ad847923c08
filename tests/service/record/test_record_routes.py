"""LiteLLM-shaped routes over real budget_service gRPC, real Redis and real PostgreSQL:
/spend/logs, /global/spend/report, /key/list, /team/list, /v2/team/list, /user/list."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from budget_service.keys import hash_key
from gemgate.errors import GatewayError
from gemgate.v1 import budget_pb2
from rest_facade.routes import management, records
from tests.service.budget.conftest import MASTER
from tests.service.record.test_durable import entry, new_key, spend

M = {"Authorization": f"Bearer {MASTER}"}
DAY0 = datetime(2027, 3, 1, 12, tzinfo=timezone.utc).timestamp()


def make_app(budget_stub, records_stub) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(GatewayError)
    async def _h(_: Request, err: GatewayError):
        return JSONResponse(err.openai_body(), status_code=err.kind.info.http_status)

    app.include_router(management.router)
    app.include_router(records.router)
    app.state.budget, app.state.records = budget_stub, records_stub
    return app


@pytest.fixture
async def client(gateway):
    app = make_app(gateway.stub(), gateway.records())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def test_spend_logs_route(gateway, client):
    stub = gateway.stub()
    await stub.NewTeam(budget_pb2.TeamRequest(api_key=MASTER, id="eng", spec=budget_pb2.EntitySpec(alias="Eng")))
    k1 = await new_key(stub, team_id="eng", user_id="u1", key_alias="ci")
    k2 = await new_key(stub, user_id="u2")
    await spend(stub, k1, "req-a", 1000, 250, start_time=DAY0)
    await spend(stub, k1, "req-b", 1000, 500, start_time=DAY0 + 86400, request_tags=["t2"])
    await spend(stub, k2, "req-c", 1000, 125, start_time=DAY0 + 86400)
    await gateway.durable.outbox.flush()

    r = await client.get("/spend/logs", headers=M, params={"request_id": "req-a"})
    assert r.status_code == 200, r.text
    [row] = r.json()
    assert row["request_id"] == "req-a" and row["spend"] == 0.00025 and row["api_key"] == hash_key(k1)
    assert row["user"] == "u1" and row["team_id"] == "eng" and row["model_group"] == "flash"
    assert row["startTime"].startswith("2027-03-01T12:00:00") and row["status"] == "success"
    assert row["metadata"]["user_api_key_alias"] == "ci" and row["end_user"] == "cust-1"
    assert k1 not in r.text

    r = await client.get("/spend/logs", headers=M, params={"api_key": k1})  # the key itself or its hash
    assert sorted(x["request_id"] for x in r.json()) == ["req-a", "req-b"]
    r = await client.get("/spend/logs", headers=M, params={"user_id": "u2"})
    assert [x["request_id"] for x in r.json()] == ["req-c"]
    r = await client.get("/spend/logs", headers=M, params={"page": 2, "page_size": 2})
    assert len(r.json()) == 1
    # date range, summarized per day (LiteLLM's default) and not
    r = await client.get("/spend/logs", headers=M, params={"start_date": "2027-03-01", "end_date": "2027-03-03"})
    days = r.json()
    assert [d["startTime"] for d in days] == ["2027-03-01", "2027-03-02", "2027-03-03"]
    assert days[0]["spend"] == pytest.approx(0.00025) and days[1]["spend"] == pytest.approx(0.000625)
    assert days[1]["users"] == {"u1": pytest.approx(0.0005), "u2": pytest.approx(0.000125)}
    assert days[1]["models"] == {"flash": pytest.approx(0.000625)} and days[2]["spend"] == 0
    r = await client.get("/spend/logs", headers=M, params={"start_date": "2027-03-02", "end_date": "2027-03-02",
                                                           "summarize": "false"})
    assert sorted(x["request_id"] for x in r.json()) == ["req-b", "req-c"]
    # bad input: 400 naming the parameter; a virtual key may not read logs
    r = await client.get("/spend/logs", headers=M, params={"start_date": "yesterday", "end_date": "2027-03-02"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "start_date"
    r = await client.get("/spend/logs", headers={"Authorization": f"Bearer {k1}"})
    assert r.status_code == 403
    # hostile paging and dates: always a 400 naming the parameter, never a 500
    for params, param in (({"page": 2**40}, "page"), ({"page_size": 0}, "page_size"), ({"page": -1}, "page"),
                          ({"start_date": "9999-12-31", "end_date": "9999-12-31"}, "end_date"),
                          ({"start_date": "2027-13-01", "end_date": "2027-03-01"}, "start_date"),
                          ({"start_date": "x" * 10000, "end_date": "2027-03-01"}, "start_date")):
        r = await client.get("/spend/logs", headers=M, params=params)
        assert r.status_code == 400 and r.json()["error"]["param"] == param, (params, r.text[:200])
    r = await client.get("/user/list", headers=M, params={"page": 2**40})
    assert r.status_code == 400
    r = await client.get("/key/list", headers=M, params={"page": 2**40})
    assert r.status_code == 400

    # /global/spend/report
    r = await client.get("/global/spend/report", headers=M,
                         params={"start_date": "2027-03-01", "end_date": "2027-03-02", "group_by": "team"})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert [d["group_by_day"] for d in rep] == ["2027-03-01", "2027-03-02"]
    teams = {t["team_name"]: t for t in rep[1]["teams"]}
    assert teams["eng"]["total_spend"] == pytest.approx(0.0005)
    assert teams["Unassigned Team"]["total_spend"] == pytest.approx(0.000125)
    assert teams["eng"]["metadata"][0]["api_key"] == hash_key(k1)
    r = await client.get("/global/spend/report", headers=M,
                         params={"start_date": "2027-03-01", "end_date": "2027-03-02", "group_by": "api_key"})
    keys = {k["api_key"]: k for k in r.json()}
    assert keys[hash_key(k1)]["total_cost"] == pytest.approx(0.00075)
    assert keys[hash_key(k1)]["total_input_tokens"] == 20 and keys[hash_key(k1)]["model_details"][0]["model"] == "flash"
    r = await client.get("/global/spend/report", headers=M,
                         params={"start_date": "2027-03-01", "end_date": "2027-03-02", "group_by": "customer"})
    assert r.json()[0]["customers"][0]["customer"] == "cust-1"
    r = await client.get("/global/spend/report", headers=M,
                         params={"start_date": "2027-03-01", "end_date": "2027-03-02", "group_by": "model"})
    assert r.json()[1]["models"][0]["total_spend"] == pytest.approx(0.000625)
    r = await client.get("/global/spend/report", headers=M,
                         params={"start_date": "2027-03-01", "end_date": "2027-03-02", "internal_user_id": "u2"})
    assert [k["api_key"] for k in r.json()] == [hash_key(k2)]
    r = await client.get("/global/spend/report", headers=M, params={"start_date": "2027-03-01"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "end_date"
    r = await client.get("/global/spend/report", headers=M,
                         params={"start_date": "2027-03-01", "end_date": "2027-03-02", "group_by": "planet"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "group_by"
    # the existing spend views answer from the log
    r = await client.get("/global/spend", headers=M)
    assert r.json()["spend"] == pytest.approx(0.000875)
    r = await client.get("/global/spend/models", headers=M)
    assert r.json() == [{"model": "flash", "total_spend": pytest.approx(0.000875)}]


async def test_list_routes_page(gateway, client):
    stub = gateway.stub()
    for i in range(3):
        await stub.NewTeam(budget_pb2.TeamRequest(api_key=MASTER, id=f"team-{i}",
                                                  spec=budget_pb2.EntitySpec(alias=f"T{i}", max_budget=i + 1)))
    for i in range(5):
        await stub.NewUser(budget_pb2.TeamRequest(api_key=MASTER, id=f"user-{i}"))
    keys = [await new_key(stub, key_alias=f"k{i}", team_id="team-0") for i in range(12)]

    r = await client.get("/key/list", headers=M)
    body = r.json()
    assert body["total_count"] == 12 and body["current_page"] == 1 and body["total_pages"] == 2
    assert len(body["keys"]) == 10
    r = await client.get("/key/list", headers=M, params={"page": 2, "size": 10, "return_full_object": "true"})
    assert len(r.json()["keys"]) == 2 and r.json()["keys"][0]["key_alias"].startswith("k")
    seen = set(body["keys"]) | {k["token"] for k in r.json()["keys"]}
    assert seen == {hash_key(k) for k in keys}
    r = await client.get("/key/list", headers=M, params={"key_alias": "k3"})
    assert r.json()["keys"] == [hash_key(keys[3])]
    r = await client.get("/key/list", headers=M, params={"size": 1000})
    assert r.status_code == 400 and r.json()["error"]["param"] == "size"

    r = await client.get("/team/list", headers=M)
    assert [t["team_id"] for t in r.json()] == ["team-0", "team-1", "team-2"]
    assert r.json()[1]["team_alias"] == "T1" and r.json()[1]["max_budget"] == 2
    r = await client.get("/v2/team/list", headers=M, params={"page": 2, "page_size": 2})
    assert r.json()["total"] == 3 and r.json()["total_pages"] == 2 and [t["team_id"] for t in r.json()["teams"]] == ["team-2"]
    r = await client.get("/user/list", headers=M, params={"page": 1, "page_size": 2})
    u = r.json()
    assert u["total"] == 5 and u["total_pages"] == 3 and [x["user_id"] for x in u["users"]] == ["user-0", "user-1"]
    r = await client.get("/user/list", headers=M, params={"page": 0})
    assert r.status_code == 400 and r.json()["error"]["param"] == "page"
    r = await client.get("/user/list", headers={"Authorization": f"Bearer {keys[0]}"})
    assert r.status_code == 403


async def test_spend_logs_without_database_is_a_clear_400(budget):
    from gemgate.v1 import records_pb2_grpc
    from budget_service.records_servicer import RecordServicer
    import grpc

    server = grpc.aio.server()
    records_pb2_grpc.add_RecordServiceServicer_to_server(RecordServicer(budget.ledger, None), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    ch = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        app = make_app(budget.stub(), records_pb2_grpc.RecordServiceStub(ch))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/spend/logs", headers=M)
            assert r.status_code == 400 and r.json()["error"]["code"] == "no_database"
            r = await c.get("/user/list", headers=M)  # lists work without a database
            assert r.status_code == 200 and r.json()["users"] == []
    finally:
        await ch.close()
        await server.stop(None)
