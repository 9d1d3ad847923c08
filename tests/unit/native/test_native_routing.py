"""Native calls ride the same router as chat: retries, fallbacks, mocks, pre-call checks."""

from __future__ import annotations

import random

import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.native.call import AnthropicCall, GeminiCall
from router_service.router import Router
from tests.unit.routing.fake_providers import FakeClock, ScriptedProvider, Sleeps, make_config

MSG = {"max_tokens": 50, "messages": [{"role": "user", "content": "hello"}]}


def mk(groups, scripts=None, rs=None, ls=None):
    clock = FakeClock()
    prov = ScriptedProvider(scripts)
    r = Router(make_config(groups, rs, ls), {"gemini": prov}, clock=clock, timer=clock, sleep=Sleeps(clock),
               rng=random.Random(1))
    return r, prov


async def test_retries_then_fallback_group_answers_in_anthropic_shape():
    r, prov = mk({"a": [{"id": "a0"}], "b": [{"id": "b0"}]}, {"a0": [ErrorKind.UPSTREAM_ERROR] * 3},
                 rs={"num_retries": 1, "fallbacks": [{"a": ["b"]}]})
    result, info = await r.native(AnthropicCall("anthropic", "generate", dict(MSG), "a"))
    assert prov.calls == {"a0": 2, "b0": 1} and info.fallback_used == "b" and info.attempts == 3
    assert result["body"]["type"] == "message" and result["body"]["model"] == "b"
    assert result["body"]["content"] == [{"type": "text", "text": "hi"}] and result["usage"]["total_tokens"] == 10
    assert prov.requests[-1]["model"] == "b" and prov.requests[-1]["max_tokens"] == 50


async def test_client_errors_do_not_fall_back_and_name_the_field():
    r, prov = mk({"a": [{}], "b": [{}]}, rs={"fallbacks": [{"a": ["b"]}]})
    with pytest.raises(GatewayError) as exc:
        await r.native(AnthropicCall("anthropic", "generate", {**MSG, "container": "c"}, "a"))
    assert exc.value.kind is ErrorKind.INVALID_REQUEST and exc.value.param == "container"
    assert not prov.requests  # refused before anything went upstream
    result, _ = await r.native(AnthropicCall("anthropic", "generate", {**MSG, "container": "c"}, "a",
                                             gateway={"drop_params": True}))
    assert result["body"]["stop_reason"] == "end_turn"


async def test_mock_response_and_stream_fallback_before_first_event():
    r, prov = mk({"a": [{"id": "a0"}], "b": [{"id": "b0"}]}, {"a0": [ErrorKind.RATE_LIMIT]},
                 rs={"num_retries": 0, "fallbacks": [{"a": ["b"]}]})
    result, _ = await r.native(GeminiCall("gemini", "generate", {"contents": [{"parts": [{"text": "x"}]}]}, "a",
                                          gateway={"mock_response": "mocked"}))
    assert result["body"]["candidates"][0]["content"]["parts"] == [{"text": "mocked"}]
    info, items = await r.native_stream(AnthropicCall("anthropic", "generate", dict(MSG), "a", stream=True))
    got = [i async for i in items]
    assert info.fallback_used == "b"
    events = [i["event"]["type"] for i in got if "event" in i]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert got[-1] == {"usage": {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}}


async def test_pre_call_checks_use_the_native_prompt():
    r, _ = mk({"small": [{"model_info": {"max_input_tokens": 10}}]}, rs={"enable_pre_call_checks": True})
    big = {"max_tokens": 5, "messages": [{"role": "user", "content": "word " * 200}]}
    with pytest.raises(GatewayError) as exc:
        await r.native(AnthropicCall("anthropic", "generate", big, "small"))
    assert exc.value.kind is ErrorKind.CONTEXT_LENGTH_EXCEEDED
