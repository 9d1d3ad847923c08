"""The router calls the attempt guard before every attempt, on every group; PERMISSION skips a
fallback group (refuses the primary), anything else stops the request."""

from __future__ import annotations

import random

import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.router import Router
from tests.unit.routing.fake_providers import FakeClock, ScriptedProvider, Sleeps, make_config

REQ = {"model": "a", "messages": [{"role": "user", "content": "hi"}]}


class Guard:
    def __init__(self, refuse: dict[str, ErrorKind] | None = None) -> None:
        self.refuse = refuse or {}
        self.calls: list[tuple[str, str]] = []

    async def before_attempt(self, group, deployments, deployment) -> None:
        self.calls.append((group, deployment.model_info.id))
        if group in self.refuse:
            raise GatewayError(self.refuse[group], f"guard refused {group}")


def mk(scripts, **rs):
    clock = FakeClock()
    cfg = make_config({"a": [{}, {}], "b": [{}], "c": [{}]}, {"num_retries": 1, "fallbacks": [{"a": ["b", "c"]}], **rs})
    prov = ScriptedProvider(scripts)
    return Router(cfg, {"gemini": prov}, clock=clock, timer=clock, sleep=Sleeps(clock), rng=random.Random(1)), prov


async def test_guard_sees_every_attempt_retry_and_fallback():
    r, prov = mk({"a-0": [ErrorKind.UPSTREAM_ERROR], "a-1": [ErrorKind.UPSTREAM_ERROR]})
    g = Guard()
    _, info = await r.chat(dict(REQ), g)
    assert [c[0] for c in g.calls] == ["a", "a", "b"] and info.fallback_used == "b"


async def test_permission_skips_a_fallback_group_without_calling_it():
    r, prov = mk({"a-0": [ErrorKind.UPSTREAM_ERROR], "a-1": [ErrorKind.UPSTREAM_ERROR]})
    g = Guard({"b": ErrorKind.PERMISSION})
    _, info = await r.chat(dict(REQ), g)
    assert info.fallback_used == "c" and prov.calls["b-0"] == 0


async def test_permission_everywhere_keeps_the_primary_error():
    r, prov = mk({"a-0": [ErrorKind.UPSTREAM_ERROR], "a-1": [ErrorKind.UPSTREAM_ERROR]})
    g = Guard({"b": ErrorKind.PERMISSION, "c": ErrorKind.PERMISSION})
    with pytest.raises(GatewayError) as ei:
        await r.chat(dict(REQ), g)
    assert ei.value.kind is ErrorKind.UPSTREAM_ERROR
    assert prov.calls["b-0"] == prov.calls["c-0"] == 0


@pytest.mark.parametrize("kind", [ErrorKind.BUDGET_EXCEEDED, ErrorKind.UNAVAILABLE])
async def test_other_refusals_stop_the_request(kind):
    r, prov = mk({"a-0": [ErrorKind.UPSTREAM_ERROR], "a-1": [ErrorKind.UPSTREAM_ERROR]})
    g = Guard({"b": kind})
    with pytest.raises(GatewayError) as ei:
        await r.chat(dict(REQ), g)
    assert ei.value.kind is kind and prov.calls["b-0"] == prov.calls["c-0"] == 0


async def test_primary_refused_never_reaches_upstream_or_fallbacks():
    r, prov = mk({})
    with pytest.raises(GatewayError) as ei:
        await r.chat(dict(REQ), Guard({"a": ErrorKind.PERMISSION}))
    assert ei.value.kind is ErrorKind.PERMISSION and sum(prov.calls.values()) == 0
    with pytest.raises(GatewayError):
        _, chunks = await r.stream({**REQ, "stream": True}, Guard({"a": ErrorKind.BUDGET_EXCEEDED}))
    assert sum(prov.calls.values()) == 0
