"""The strict fake validator itself: it must reject what Google rejects."""

import copy

import pytest

from tests.fakes.gemini_validate import validate_embed, validate_generate_content

OK = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def _with(**changes):
    body = copy.deepcopy(OK)
    body.update(changes)
    return body


def test_minimal_ok():
    assert validate_generate_content(OK, vertex=False) is None
    assert validate_generate_content(OK, vertex=True) is None


def test_unknown_fields_every_level():
    assert validate_generate_content(_with(foo=1), vertex=False) == 'Invalid JSON payload received. Unknown name "foo": Cannot find field.'
    msg = validate_generate_content(_with(generationConfig={"foo": 1}), vertex=False)
    assert msg == 'Invalid JSON payload received. Unknown name "foo" at \'generation_config\': Cannot find field.'
    assert "Unknown name \"bar\" at 'contents[0].parts[0]'" in validate_generate_content(
        {"contents": [{"role": "user", "parts": [{"text": "x", "bar": 1}]}]}, vertex=False)
    assert "labels" in validate_generate_content(_with(labels={"a": "b"}), vertex=False)
    assert validate_generate_content(_with(labels={"a": "b"}), vertex=True) is None


def test_roles():
    assert "valid role" in validate_generate_content({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, vertex=False)
    no_role = {"contents": [{"parts": [{"text": "x"}]}]}
    assert validate_generate_content(no_role, vertex=False) is None
    assert "valid role" in validate_generate_content(no_role, vertex=True)


def test_parts_rules():
    assert "must not be empty" in validate_generate_content({"contents": [{"role": "user", "parts": []}]}, vertex=False)
    assert "empty text" in validate_generate_content({"contents": [{"role": "user", "parts": [{"text": ""}]}]}, vertex=False)
    two = {"contents": [{"role": "user", "parts": [{"text": "x", "inlineData": {"mimeType": "a/b", "data": "AA=="}}]}]}
    assert "Oneof field 'data' is already set" in validate_generate_content(two, vertex=False)
    none = {"contents": [{"role": "user", "parts": [{"thought": True}]}]}
    assert "oneof field 'data'" in validate_generate_content(none, vertex=False)
    bad_b64 = {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "a/b", "data": "@@"}}]}]}
    assert "Base64 decoding failed" in validate_generate_content(bad_b64, vertex=False)


def _decl(**kw):
    return _with(tools=[{"functionDeclarations": [{"name": "f", **kw}]}])


@pytest.mark.parametrize("schema,needle", [
    ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}, 'Unknown name "additionalProperties"'),
    ({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, 'Unknown name "$ref"'),
    ({"type": "object", "properties": {"a": {"const": "x"}}}, 'Unknown name "const"'),
    ({"type": "object", "properties": {"a": {"type": ["string", "null"]}}}, "cannot start list"),
    ({"type": "object", "properties": {"a": {"oneOf": []}}}, 'Unknown name "oneOf"'),
    ({"type": "object", "properties": {}}, "should be non-empty for OBJECT type"),
    ({"type": "object", "properties": {"a": {"type": "array"}}}, "items"),
    ({"type": "object", "properties": {"a": {"type": "string", "enum": [1]}}}, "enum"),
])
def test_rejected_schema_keywords(schema, needle):
    assert needle in validate_generate_content(_decl(parameters=schema), vertex=False)


def test_vertex_schema_allows_additional_properties():
    schema = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "additionalProperties": False}
    assert validate_generate_content(_decl(parameters=schema), vertex=True) is None


def test_parameters_and_json_schema_both():
    schema = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}
    assert "cannot be both set" in validate_generate_content(_decl(parameters=schema, parametersJsonSchema=schema), vertex=False)


@pytest.mark.parametrize("name", ["1f", "a b", "x" * 65])
def test_function_name_charset(name):
    body = _with(tools=[{"functionDeclarations": [{"name": name}]}])
    assert "Invalid function name" in validate_generate_content(body, vertex=False)


@pytest.mark.parametrize("gen,needle", [
    ({"stopSequences": list("abcdef")}, "at most 5"),
    ({"temperature": 2.5}, "temperature"),
    ({"candidateCount": 0}, "candidateCount"),
    ({"responseMimeType": "application/json", "responseSchema": {"type": "STRING"}, "responseJsonSchema": {}}, "both set"),
    ({"thinkingConfig": {"thinkingBudget": 10, "thinkingLevel": "LOW"}}, "thinking budget and thinking level"),
    ({"logprobs": 3}, "response_logprobs"),
    ({"thinkingConfig": {"thinkingLevel": "ULTRA"}}, "thinking_level"),
])
def test_generation_config_rules(gen, needle):
    assert needle in validate_generate_content(_with(generationConfig=gen), vertex=False)


def _turns(n_calls, n_responses, with_ids=False):
    call = {"functionCall": {"name": "f", "args": {}, **({"id": "1"} if with_ids else {})}}
    resp = {"functionResponse": {"name": "f", "response": {}}}
    return {"contents": [{"role": "user", "parts": [{"text": "q"}]}, {"role": "model", "parts": [call] * n_calls},
                         {"role": "user", "parts": [resp] * n_responses}]}


def test_function_response_count_must_match():
    assert validate_generate_content(_turns(2, 2), vertex=False) is None
    assert "number of function response parts" in validate_generate_content(_turns(2, 1), vertex=False)


def test_vertex_rejects_function_call_id():
    assert validate_generate_content(_turns(1, 1, with_ids=True), vertex=False) is None
    assert 'Unknown name "id"' in validate_generate_content(_turns(1, 1, with_ids=True), vertex=True)


def test_safety_and_tool_config():
    bad = _with(safetySettings=[{"category": "HARM_CATEGORY_JAILBREAK", "threshold": "OFF"}])
    assert "category" in validate_generate_content(bad, vertex=False)
    assert validate_generate_content(bad, vertex=True) is None
    names = _with(toolConfig={"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}})
    assert "allowed_function_names" in validate_generate_content(names, vertex=False)


def test_validate_embed():
    assert validate_embed("embedContent", {"content": {"parts": [{"text": "x"}]}}, vertex=False) is None
    assert 'Unknown name "dims"' in validate_embed("embedContent", {"content": {"parts": [{"text": "x"}]}, "dims": 3}, vertex=False)
    assert "models/" in validate_embed("batchEmbedContents", {"requests": [{"model": "x", "content": {"parts": [{"text": "x"}]}}]}, vertex=False)
    assert validate_embed("predict", {"instances": [{"content": "x"}], "parameters": {"outputDimensionality": 3}}, vertex=True) is None
    assert "Unknown name" in validate_embed("predict", {"instances": [{"text": "x"}]}, vertex=True)
