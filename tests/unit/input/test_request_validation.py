"""Client mistakes in chat/embeddings bodies are 400s naming the param (never a 500 later on)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gemgate import openai_proto as conv
from gemgate.errors import ErrorKind, GatewayError

ROOT = Path(__file__).resolve().parents[3]
BASE = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def _chat_err(**extra) -> GatewayError:
    with pytest.raises(GatewayError) as exc:
        conv.chat_request_to_proto({**BASE, **extra})
    assert exc.value.kind is ErrorKind.INVALID_REQUEST
    return exc.value


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs"])
@pytest.mark.parametrize("value", [2**63, 2**64, 1e20, -(2**63) - 1, 2**31 * 1.0 * 2**40])
def test_out_of_range_integers(param, value):
    err = _chat_err(**{param: value})
    assert err.param == param


@pytest.mark.parametrize("param,value", [
    ("max_tokens", 2**31), ("max_tokens", 0), ("n", 129), ("n", 0), ("top_logprobs", 21), ("top_logprobs", -1),
    ("temperature", 2.5), ("temperature", -0.1), ("top_p", 1.5), ("presence_penalty", 3), ("frequency_penalty", -2.5),
    ("temperature", 1e308), ("seed", 1.5), ("n", True), ("max_tokens", "10"),
])
def test_range_and_type_checks_name_the_param(param, value):
    assert _chat_err(**{param: value}).param == param


@pytest.mark.parametrize("param,value", [
    ("max_tokens", 2**31 - 1), ("seed", 2**63 - 1), ("seed", -(2**63)), ("n", 128), ("top_logprobs", 20),
    ("temperature", 0), ("temperature", 2), ("top_p", 1), ("presence_penalty", -2),
])
def test_range_edges_are_accepted(param, value):
    assert getattr(conv.chat_request_to_proto({**BASE, param: value}), param) == value


@pytest.mark.parametrize("value", [2**63, 0, 65537, 1e20])
def test_embedding_dimensions_range(value):
    with pytest.raises(GatewayError) as exc:
        conv.embeddings_request_to_proto({"model": "e", "input": "x", "dimensions": value})
    assert exc.value.param == "dimensions"


@pytest.mark.parametrize("field", ["model", "user"])
def test_unpaired_surrogate_in_a_python_dict_is_a_400(field):
    # bodies parsed by safejson never carry these, but gRPC/other callers of the converter might
    assert _chat_err(**{field: "x\ud800"}).param == field


def test_unpaired_surrogate_in_content_and_tool_name():
    err = _chat_err(messages=[{"role": "user", "content": "\udfff"}])
    assert err.param == "messages[0].content"
    err = _chat_err(tools=[{"type": "function", "function": {"name": "f\ud800"}}])
    assert err.param == "tools[0].function.name"
    with pytest.raises(GatewayError) as exc:
        conv.embeddings_request_to_proto({"model": "e", "input": ["ok", "\ud800"]})
    assert exc.value.param == "input[1]"


def _nest(levels: int):
    v: object = 1
    for _ in range(levels):
        v = {"a": v}
    return v


@pytest.mark.parametrize("field", ["metadata", "safety_settings_extra"])
@pytest.mark.parametrize("levels", [40, 120, 900])
def test_deep_struct_fields_are_400s_not_decode_errors(field, levels):
    err = _chat_err(**{field: _nest(levels)})
    assert err.param.startswith(field) and err.code == "nesting_too_deep"


def test_struct_fields_at_the_limit_survive_grpc_decoding():
    req = conv.chat_request_to_proto({**BASE, "metadata": _nest(conv.STRUCT_MAX_DEPTH - 1)})
    type(req).FromString(req.SerializeToString())  # the router's side must be able to decode it


def test_deep_schemas_travel_as_json_text():
    schema = {"type": "object", "properties": {"a": _nest(40)}}
    req = conv.chat_request_to_proto({**BASE, "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}]})
    back = conv.chat_request_to_dict(type(req).FromString(req.SerializeToString()))
    assert back["tools"][0]["function"]["parameters"] == schema


SCHEMA = {"type": "object",
          "properties": {"zeta": {"type": "string", "enum": ["z", "b", "a"]}, "alpha": {"type": "integer"},
                         "mid": {"type": "object", "properties": {"y": {"type": "string"}, "b": {"type": "string"}},
                                 "required": ["y", "b"]}},
          "required": ["zeta", "mid", "alpha"]}


def _orders(d):
    if isinstance(d, dict):
        return [list(d), *[o for v in d.values() for o in _orders(v)]]
    if isinstance(d, list):
        return [list(d) if all(isinstance(x, str) for x in d) else None, *[o for v in d for o in _orders(v)]]
    return []


def test_schema_key_order_survives_the_proto():
    body = {**BASE, "tools": [{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": SCHEMA}}}
    back = conv.chat_request_to_dict(conv.chat_request_to_proto(body))
    for got in (back["tools"][0]["function"]["parameters"], back["response_format"]["json_schema"]["schema"]):
        assert _orders(got) == _orders(SCHEMA)


_CHILD = """
import json, sys
from gemgate import openai_proto as conv
from router_service.providers.gemini.translate import to_gemini_request
body = json.loads(sys.stdin.read())
req = conv.chat_request_to_dict(type(conv.chat_request_to_proto(body)).FromString(conv.chat_request_to_proto(body).SerializeToString()))
print(json.dumps(to_gemini_request(req)))
"""


def test_gemini_body_is_identical_across_hash_seeds():
    """Two processes with different PYTHONHASHSEEDs send Gemini byte-identical schemas (the
    restart-to-restart key order change the issue describes)."""
    body = {**BASE, "tools": [{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": SCHEMA}}}
    outs = []
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        outs.append(subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(body), capture_output=True,
                                   text=True, env=env, cwd=ROOT, check=True).stdout)
    assert outs[0] == outs[1] == outs[2]
    gemini = json.loads(outs[0])
    params = gemini["tools"][0]["functionDeclarations"][0]["parameters"]
    assert list(params["properties"]) == ["zeta", "alpha", "mid"]
    assert params["propertyOrdering"] == ["zeta", "alpha", "mid"]
    assert params["required"] == ["zeta", "mid", "alpha"]
    assert params["properties"]["zeta"]["enum"] == ["z", "b", "a"]
    assert params["properties"]["mid"]["propertyOrdering"] == ["y", "b"]
    assert list(gemini["generationConfig"]["responseJsonSchema"]["properties"]) == ["zeta", "alpha", "mid"]
