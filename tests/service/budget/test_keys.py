"""Key lifecycle via gRPC."""

from __future__ import annotations

import logging

import grpc
import pytest

from budget_service.keys import hash_key
from gemgate.errors import ErrorKind
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import budget_pb2
from tests.service.budget.conftest import MASTER


async def err_of(aw):
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await aw
    return from_rpc_error(ei.value)


async def test_key_lifecycle(budget, caplog):
    caplog.set_level(logging.DEBUG)
    stub = budget.stub()
    gen = await stub.GenerateKey(budget_pb2.GenerateKeyRequest(api_key=MASTER, spec=budget_pb2.KeySpec(
        key_alias="svc", max_budget=2.5, budget_duration="30d", rpm_limit=10, duration="1h",
        models=["a"], user_id="u9")))
    key = gen.key
    assert key.startswith("sk-") and len(key) >= 3 + 43
    assert gen.info.token == hash_key(key) and gen.info.key_name == f"sk-...{key[-4:]}"
    assert gen.info.max_budget == 2.5 and gen.info.expires
    ident = await stub.Authorize(budget_pb2.AuthorizeRequest(api_key=key))
    assert ident.identity.key_alias == "svc" and ident.identity.user_id == "u9"
    # the user was created implicitly (no budget)
    user = await stub.UserInfo(budget_pb2.EntityRef(api_key=MASTER, id="u9"))
    assert not user.info.HasField("max_budget") and user.info.keys[0].token == gen.info.token

    # a non-master key may read itself only, and cannot manage
    own = await stub.KeyInfo(budget_pb2.KeyRef(api_key=key))
    assert own.info.key_alias == "svc"
    assert (await err_of(stub.GenerateKey(budget_pb2.GenerateKeyRequest(api_key=key)))).kind is ErrorKind.PERMISSION
    assert (await err_of(stub.GenerateKey(budget_pb2.GenerateKeyRequest(api_key="sk-wrong")))).kind is ErrorKind.AUTHENTICATION

    upd = await stub.UpdateKey(budget_pb2.UpdateKeyRequest(api_key=MASTER, key=key, spec=budget_pb2.KeySpec(
        max_budget=5.0, clear_max_budget=False, models_set=True)))
    assert upd.info.max_budget == 5.0 and list(upd.info.models) == [] and upd.info.key_alias == "svc"

    await stub.BlockKey(budget_pb2.KeyRef(api_key=MASTER, key=key))
    err = await err_of(stub.Authorize(budget_pb2.AuthorizeRequest(api_key=key)))
    assert err.kind is ErrorKind.PERMISSION and key not in err.message
    await stub.UnblockKey(budget_pb2.KeyRef(api_key=MASTER, key=gen.info.token))
    await stub.Authorize(budget_pb2.AuthorizeRequest(api_key=key))

    listed = await stub.ListKeys(budget_pb2.ListKeysRequest(api_key=MASTER))
    assert [k.token for k in listed.keys] == [gen.info.token]

    regen = await stub.RegenerateKey(budget_pb2.KeyRef(api_key=MASTER, key=key))
    assert regen.key != key and regen.info.key_alias == "svc"
    assert (await err_of(stub.Authorize(budget_pb2.AuthorizeRequest(api_key=key)))).kind is ErrorKind.AUTHENTICATION
    await stub.Authorize(budget_pb2.AuthorizeRequest(api_key=regen.key))

    # expiry (injected clock)
    budget.clock.now += 3601
    err = await err_of(stub.Authorize(budget_pb2.AuthorizeRequest(api_key=regen.key)))
    assert err.kind is ErrorKind.AUTHENTICATION and err.code == "key_expired"

    deleted = await stub.DeleteKeys(budget_pb2.DeleteKeysRequest(api_key=MASTER, keys=[regen.key]))
    assert list(deleted.deleted_keys) == [regen.key]
    assert (await err_of(stub.Authorize(budget_pb2.AuthorizeRequest(api_key=regen.key)))).kind is ErrorKind.AUTHENTICATION
    assert (await err_of(stub.KeyInfo(budget_pb2.KeyRef(api_key=MASTER, key=regen.key)))).kind is ErrorKind.NOT_FOUND
    for rec in caplog.records:
        assert key not in rec.getMessage() and regen.key not in rec.getMessage()


async def test_validation_errors(budget):
    stub = budget.stub()
    e = await err_of(stub.GenerateKey(budget_pb2.GenerateKeyRequest(
        api_key=MASTER, spec=budget_pb2.KeySpec(budget_duration="weekly"))))
    assert e.kind is ErrorKind.INVALID_REQUEST and e.param == "budget_duration"
    e = await err_of(stub.GenerateKey(budget_pb2.GenerateKeyRequest(api_key=MASTER, spec=budget_pb2.KeySpec(team_id="nope"))))
    assert e.kind is ErrorKind.INVALID_REQUEST and e.param == "team_id"
    await stub.NewTeam(budget_pb2.TeamRequest(api_key=MASTER, id="t", spec=budget_pb2.EntitySpec(alias="T")))
    e = await err_of(stub.NewTeam(budget_pb2.TeamRequest(api_key=MASTER, id="t")))
    assert e.kind is ErrorKind.INVALID_REQUEST
    upd = await stub.UpdateTeam(budget_pb2.TeamRequest(api_key=MASTER, id="t", spec=budget_pb2.EntitySpec(rpm_limit=5)))
    assert upd.info.rpm_limit == 5 and upd.info.alias == "T"
