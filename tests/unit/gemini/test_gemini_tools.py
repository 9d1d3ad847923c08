import json

import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.gemini.schema import to_gemini_schema
from router_service.providers.gemini.tool_ids import make_call_id, split_call_id
from router_service.providers.gemini.translate import from_gemini_response, to_gemini_request
from tests.fakes.gemini_validate import validate_generate_content
from tests.unit.gemini.gemini_fixtures import CYCLIC_TOOL, FIXTURES, SIG, WEATHER_TOOL, tool_history


def _decls(req):
    return to_gemini_request(req)["tools"][0]["functionDeclarations"]


def test_tools_sanitized_schema():
    weather, noarg, cyclic = _decls(FIXTURES["tools"])
    params = weather["parameters"]
    assert "parametersJsonSchema" not in weather
    assert params["properties"]["unit"] == {"type": "STRING", "enum": ["c", "f"], "nullable": True}
    assert params["properties"]["days"] == {"type": "INTEGER", "nullable": True}
    assert params["properties"]["kind"] == {"enum": ["forecast"], "type": "STRING"}
    assert params["properties"]["where"]["properties"]["lat"] == {"type": "NUMBER"}
    assert "additionalProperties" not in params and "$defs" not in params
    assert noarg == {"name": "now"}
    assert "parameters" not in cyclic and cyclic["parametersJsonSchema"] == CYCLIC_TOOL["function"]["parameters"]


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}},
    {"type": "object", "properties": {"a": {"type": "object", "additionalProperties": {"type": "string"}}}},
    {"type": "object", "properties": {"a": {"const": 3}}},
    {"type": "object", "properties": {"a": {"$ref": "http://x/y"}}},
])
def test_lossy_schemas_fall_back_to_json_schema(schema):
    assert to_gemini_schema(schema) is None


def test_tool_choice_modes():
    for choice, mode in [("none", "NONE"), ("auto", "AUTO"), ("required", "ANY")]:
        body = to_gemini_request({**FIXTURES["tools"], "tool_choice": choice})
        assert body["toolConfig"] == {"functionCallingConfig": {"mode": mode}}
    body = to_gemini_request(FIXTURES["named_tool_choice"])
    assert body["toolConfig"]["functionCallingConfig"] == {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}


def test_bad_tool_choice_is_400():
    with pytest.raises(GatewayError) as exc:
        to_gemini_request({**FIXTURES["tools"], "tool_choice": {"type": "function", "function": {"name": "nope"}}})
    assert exc.value.param == "tool_choice"


@pytest.mark.parametrize("name", ["bad name", "x" * 65, "", "ü", "1abc"])
def test_bad_function_name_is_400(name):
    tool = {"type": "function", "function": {"name": name}}
    with pytest.raises(GatewayError) as exc:
        to_gemini_request({**FIXTURES["plain"], "tools": [WEATHER_TOOL, tool]})
    assert exc.value.kind is ErrorKind.INVALID_REQUEST and exc.value.param == "tools[1].function.name"


def test_tool_history_to_function_call_and_responses():
    contents = to_gemini_request(FIXTURES["tool_history"])["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    calls = contents[1]["parts"]
    assert calls[0] == {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}}
    responses = contents[2]["parts"]
    assert responses == [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 20}, "id": "call_1"}},
        {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}, "id": "call_2"}},
    ]


def test_vertex_has_no_ids_and_roles_set():
    body = to_gemini_request(FIXTURES["tool_history"], vertex=True)
    for c in body["contents"]:
        assert c["role"] in ("user", "model")
        for p in c["parts"]:
            assert "id" not in p.get("functionCall", {}) and "id" not in p.get("functionResponse", {})


def test_user_after_tool_results_is_own_content():
    contents = to_gemini_request(FIXTURES["tool_history_then_user"])["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user", "model", "user"]


def test_bad_arguments_json_is_400():
    msgs = tool_history()
    msgs[2]["tool_calls"][0]["function"]["arguments"] = "{oops"
    with pytest.raises(GatewayError) as exc:
        to_gemini_request({"model": "m", "messages": msgs})
    assert exc.value.param == "messages[2].tool_calls[0].function.arguments"


def test_unknown_tool_call_id_is_400():
    msgs = tool_history()
    msgs[4]["tool_call_id"] = "call_zzz"
    with pytest.raises(GatewayError) as exc:
        to_gemini_request({"model": "m", "messages": msgs})
    assert exc.value.param == "messages[4].tool_call_id"


def test_call_id_encoding_round_trip():
    cid = make_call_id("abc", SIG)
    assert cid.startswith("abc__thought__")
    assert split_call_id(cid) == ("abc", SIG)
    assert split_call_id("call_x") == ("call_x", None)
    assert make_call_id(None, None).startswith("call_")


def _gemini3_answer():
    return {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    ]}, "finishReason": "STOP"}], "responseId": "r1"}


@pytest.mark.parametrize("vertex", [False, True])
def test_thought_signature_round_trip(vertex):
    resp = from_gemini_response(_gemini3_answer(), model="gemini-3-pro")
    choice = resp["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert len(calls) == 2 and "__thought__" in calls[0]["id"] and "__thought__" not in calls[1]["id"]
    assert json.loads(calls[1]["function"]["arguments"]) == {"city": "Rome"}
    msgs = [{"role": "user", "content": "q"}, {**choice["message"]},
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": "20"},
            {"role": "tool", "tool_call_id": calls[1]["id"], "content": "25"}]
    body = to_gemini_request({"model": "gemini-3-pro", "messages": msgs, "tools": [WEATHER_TOOL]}, vertex=vertex)
    parts = body["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == SIG and "thoughtSignature" not in parts[1]
    assert len(body["contents"][2]["parts"]) == 2
    assert validate_generate_content(body, vertex=vertex) is None


def test_ai_studio_call_id_kept_consistent():
    answer = _gemini3_answer()
    answer["candidates"][0]["content"]["parts"][1]["functionCall"]["id"] = "up-2"
    calls = from_gemini_response(answer, model="m")["choices"][0]["message"]["tool_calls"]
    assert calls[1]["id"] == "up-2"
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": calls},
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": "a"},
            {"role": "tool", "tool_call_id": "up-2", "content": "b"}]
    body = to_gemini_request({"model": "m", "messages": msgs})
    assert body["contents"][1]["parts"][1]["functionCall"]["id"] == "up-2"
    assert body["contents"][2]["parts"][1]["functionResponse"]["id"] == "up-2"
