"""PostgreSQL as the system of record behind budget_service, with real Redis and real PostgreSQL:
documents written through, one spend-log row per charge (never doubled), Redis emptied -> rebuilt
by itself with spend continuing and budgets holding, settlements that lost their reservation."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from budget_service.keys import hash_key
from gemgate.errors import ErrorKind
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import budget_pb2, records_pb2
from tests.service.budget.conftest import MASTER


def entry(key: str, **kw) -> budget_pb2.SpendLogEntry:
    e = budget_pb2.SpendLogEntry(call_type="chat", api_key=hash_key(key), key_alias="ci", end_user="cust-1",
                                 model_group="flash", model_id="flash-0", model="gemini-2.5-flash",
                                 custom_llm_provider="gemini", prompt_tokens=10, completion_tokens=5,
                                 total_tokens=15, cached_tokens=2, reasoning_tokens=3, start_time=1_800_000_000.0,
                                 end_time=1_800_000_001.5, status="success", request_tags=["job:1"])
    for k, v in kw.items():
        if k == "request_tags":
            e.ClearField(k)
            e.request_tags.extend(v)
        else:
            setattr(e, k, v)
    return e


async def new_key(stub, **spec) -> str:
    return (await stub.GenerateKey(budget_pb2.GenerateKeyRequest(api_key=MASTER, spec=budget_pb2.KeySpec(**spec)))).key


async def spend(stub, key: str, rid: str, reserve: int, cost: int, **kw) -> budget_pb2.SettleResponse:
    await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id=rid, model="flash",
                                                 estimated_cost_micros=reserve))
    return await stub.Settle(budget_pb2.SettleRequest(request_id=rid, actual_cost_micros=cost, model="flash",
                                                      success=True, log=entry(key, **kw)))


async def rows(gw, **filters) -> list[dict]:
    await gw.durable.outbox.flush()
    out, _ = await gw.durable.record.spend_logs(filters=filters, start=None, end=None, offset=0, limit=1000)
    return out


async def test_documents_live_in_postgres_as_hashes(gateway):
    stub = gateway.stub()
    await stub.NewTeam(budget_pb2.TeamRequest(api_key=MASTER, id="eng", spec=budget_pb2.EntitySpec(max_budget=5)))
    key = await new_key(stub, max_budget=1.0, team_id="eng", user_id="alice", key_alias="ci")
    keys = await gateway.durable.record.all_docs("key")
    assert [k["token"] for k in keys] == [hash_key(key)] and keys[0]["max_budget"] == 1_000_000
    async with gateway.durable.record.pool.acquire() as conn:
        dump = " ".join(str(r) for r in await conn.fetch("SELECT * FROM gemgate_keys"))
    assert key not in dump and key[3:20] not in dump  # never the key itself
    assert [t["id"] for t in await gateway.durable.record.all_docs("team")] == ["eng"]
    assert [u["id"] for u in await gateway.durable.record.all_docs("user")] == ["alice"]  # implicit user
    await stub.DeleteKeys(budget_pb2.DeleteKeysRequest(api_key=MASTER, keys=[key]))
    assert await gateway.durable.record.all_docs("key") == []


async def test_one_row_per_request_with_the_router_facts_never_doubled(gateway):
    stub = gateway.stub()
    await stub.NewTeam(budget_pb2.TeamRequest(api_key=MASTER, id="eng"))
    key = await new_key(stub, team_id="eng", user_id="bob", key_alias="ci")
    assert (await spend(stub, key, "r1", 5000, 1234)).applied
    # the router retries a settlement (lost answer): applied once, logged once
    again = await stub.Settle(budget_pb2.SettleRequest(request_id="r1", actual_cost_micros=1234, log=entry(key)))
    assert not again.applied
    got = await rows(gateway)
    assert len(got) == 1
    r = got[0]
    assert r["request_id"] == "r1" and r["spend_micros"] == 1234 and r["api_key"] == hash_key(key)
    assert r["team_id"] == "eng" and r["user_id"] == "bob" and r["key_alias"] == "ci" and r["end_user"] == "cust-1"
    assert (r["model_group"], r["model_id"], r["model"]) == ("flash", "flash-0", "gemini-2.5-flash")
    assert (r["prompt_tokens"], r["completion_tokens"], r["cached_tokens"], r["reasoning_tokens"]) == (10, 5, 2, 3)
    assert r["status"] == "success" and r["charge"] == "settled" and r["request_tags"] == ["job:1"]
    assert r["start_time"] == 1_800_000_000.0
    # the outbox was emptied after the commit; writing the same entries again adds nothing
    assert await gateway.redis.r.xlen(gateway.redis.k("outbox")) == 0
    assert await gateway.durable.record.insert_spend(got) == 0
    # spend views come from the log
    total = await stub.Spend(budget_pb2.SpendRequest(api_key=MASTER, view="global"))
    assert total.total_spend == pytest.approx(0.001234)


async def test_expired_reservation_is_logged_as_charged(gateway):
    stub = gateway.stub()
    key = await new_key(stub, max_budget=1.0)
    await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="lost", model="flash",
                                                 estimated_cost_micros=700))
    gateway.clock.now += gateway.ledger.reservation_ttl + 1
    await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="next", model="flash",
                                                 estimated_cost_micros=1))  # sweeps the dead one
    got = {r["request_id"]: r for r in await rows(gateway)}
    assert got["lost"]["spend_micros"] == 700 and got["lost"]["charge"] == "expired"
    assert got["lost"]["api_key"] == hash_key(key)  # found by /spend/logs?api_key= like any other row


async def test_redis_emptied_rebuilds_keys_and_spend_and_budget_holds(gateway):
    stub = gateway.stub()
    await stub.NewTeam(budget_pb2.TeamRequest(api_key=MASTER, id="eng", spec=budget_pb2.EntitySpec(max_budget=0.01)))
    key = await new_key(stub, max_budget=0.005, budget_duration="30d", team_id="eng", key_alias="ci")
    other = await new_key(stub, max_budget=1.0)
    assert (await spend(stub, key, "a", 1000, 3000)).applied
    await gateway.durable.outbox.flush()

    await gateway.wipe_redis()  # Redis restarted empty
    # the key made before the loss works after it ...
    info = await stub.KeyInfo(budget_pb2.KeyRef(api_key=MASTER, key=key))
    assert info.info.spend == pytest.approx(0.003) and info.info.key_alias == "ci"
    assert gateway.durable.rebuilds >= 2  # startup + this one
    # ... its spend continues from where it was, so the budget still holds across the loss
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="b", model="flash",
                                                     estimated_cost_micros=2500))
    assert from_rpc_error(ei.value).kind is ErrorKind.BUDGET_EXCEEDED
    assert (await spend(stub, key, "c", 2000, 2000)).applied
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="d", estimated_cost_micros=1))
    # the other key, the team and lifetime totals are back too
    await stub.Reserve(budget_pb2.ReserveRequest(api_key=other, request_id="e", estimated_cost_micros=1))
    team = await stub.TeamInfo(budget_pb2.EntityRef(api_key=MASTER, id="eng"))
    assert team.info.spend == pytest.approx(0.005)
    assert sum(r["spend_micros"] for r in await rows(gateway)) == 5000


async def test_rebuild_by_itself_without_any_request(gateway):
    stub = gateway.stub()
    key = await new_key(stub, max_budget=1.0)
    await spend(stub, key, "a", 10, 10)
    await gateway.durable.outbox.flush()
    before = gateway.durable.rebuilds
    await gateway.wipe_redis()
    for _ in range(200):  # the watcher notices within its interval (no request asks for the key)
        if gateway.durable.rebuilds > before:
            break
        await asyncio.sleep(0.05)
    assert gateway.durable.rebuilds == before + 1
    assert await gateway.redis.get_doc("key", hash_key(key)) is not None
    assert await gateway.redis.get_int(gateway.ledger.spend_key("key", (await gateway.redis.get_doc(
        "key", hash_key(key)))["id"], {}, gateway.clock())[0]) == 10


async def test_settlement_after_redis_lost_its_reservation_is_still_charged(gateway):
    stub = gateway.stub()
    key = await new_key(stub, max_budget=0.01)
    await stub.Reserve(budget_pb2.ReserveRequest(api_key=key, request_id="inflight", model="flash",
                                                 estimated_cost_micros=5000))
    await gateway.wipe_redis()  # the request is still running upstream
    res = await stub.Settle(budget_pb2.SettleRequest(request_id="inflight", actual_cost_micros=4000, model="flash",
                                                     success=True, log=entry(key)))
    assert res.applied and res.charged_micros == 4000
    again = await stub.Settle(budget_pb2.SettleRequest(request_id="inflight", actual_cost_micros=4000,
                                                       log=entry(key)))
    assert not again.applied  # still exactly once
    info = await stub.KeyInfo(budget_pb2.KeyRef(api_key=MASTER, key=key))
    assert info.info.spend == pytest.approx(0.004)
    got = await rows(gateway)
    assert [(r["request_id"], r["spend_micros"], r["charge"]) for r in got] == [("inflight", 4000, "unreserved")]
    assert got[0]["key_id"] and got[0]["model_id"] == "flash-0"


async def test_spend_logs_and_report_rpcs(gateway):
    stub, rec = gateway.stub(), gateway.records()
    await stub.NewTeam(budget_pb2.TeamRequest(api_key=MASTER, id="eng"))
    k1 = await new_key(stub, team_id="eng", user_id="u1")
    k2 = await new_key(stub, user_id="u2")
    for i in range(5):
        await spend(stub, k1, f"k1-{i}", 100, 100, start_time=1_800_000_000.0 + i * 86400)
    await spend(stub, k2, "k2-0", 100, 50, start_time=1_800_000_000.0)
    await gateway.durable.outbox.flush()
    page = await rec.SpendLogs(records_pb2.SpendLogsRequest(api_key=MASTER, key=k1, page=1, page_size=2))
    assert page.total == 5 and [r.request_id for r in page.rows] == ["k1-4", "k1-3"]
    page3 = await rec.SpendLogs(records_pb2.SpendLogsRequest(api_key=MASTER, key=k1, page=3, page_size=2))
    assert [r.request_id for r in page3.rows] == ["k1-0"]
    one = await rec.SpendLogs(records_pb2.SpendLogsRequest(api_key=MASTER, request_id="k2-0"))
    assert one.total == 1 and one.rows[0].user_id == "u2" and one.rows[0].spend_micros == 50
    ranged = await rec.SpendLogs(records_pb2.SpendLogsRequest(
        api_key=MASTER, team_id="eng", start=1_800_000_000.0 + 86400, end=1_800_000_000.0 + 3 * 86400))
    assert sorted(r.request_id for r in ranged.rows) == ["k1-1", "k1-2"]
    report = await rec.SpendReport(records_pb2.SpendReportRequest(
        api_key=MASTER, start=1_799_990_000.0, end=1_800_000_000.0 + 10 * 86400, group_by="team"))
    by_group = {}
    for r in report.rows:
        by_group[r.group] = by_group.get(r.group, 0) + r.spend_micros
    assert by_group == {"eng": 500, "": 50}
    assert len({r.day for r in report.rows}) == 5
    # only the master key; bad paging is a 400
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await rec.SpendLogs(records_pb2.SpendLogsRequest(api_key=k1))
    assert from_rpc_error(ei.value).kind is ErrorKind.PERMISSION
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await rec.SpendLogs(records_pb2.SpendLogsRequest(api_key=MASTER, page_size=100000))
    assert from_rpc_error(ei.value).kind is ErrorKind.INVALID_REQUEST


async def test_proxy_wide_budget_holds_across_redis_loss(schema):
    """litellm_settings.max_budget (the proxy's own budget) is rebuilt from the log too."""
    from tests.service.record.conftest import start_gateway

    gw = await start_gateway(schema, proxy_budget={"max_budget": 5000, "budget_duration": "30d"})
    try:
        stub = gw.stub()
        k1, k2 = await new_key(stub), await new_key(stub)
        await spend(stub, k1, "p1", 3000, 3000)
        await gw.durable.outbox.flush()
        await gw.wipe_redis()
        await stub.Reserve(budget_pb2.ReserveRequest(api_key=k2, request_id="p2", estimated_cost_micros=1500))
        with pytest.raises(grpc.aio.AioRpcError) as ei:  # 3000 + 1500 held + 1000 > 5000
            await stub.Reserve(budget_pb2.ReserveRequest(api_key=k2, request_id="p3", estimated_cost_micros=1000))
        assert from_rpc_error(ei.value).kind is ErrorKind.BUDGET_EXCEEDED
        assert "proxy" in from_rpc_error(ei.value).message
    finally:
        await gw.close()
        await gw.redis.delete_prefix()
        await gw.redis.close()
