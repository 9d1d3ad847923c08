import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.gemini.translate import to_gemini_request
from tests.fakes.gemini_validate import validate_generate_content
from tests.unit.gemini.gemini_fixtures import FIXTURES, PNG_B64


def _bad(req, param, **kw):
    with pytest.raises(GatewayError) as exc:
        to_gemini_request(req, **kw)
    assert exc.value.kind is ErrorKind.INVALID_REQUEST
    assert exc.value.param == param
    return exc.value


@pytest.mark.parametrize("vertex", [False, True])
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_fixture_passes_strict_validator(name, vertex):
    body = to_gemini_request(FIXTURES[name], vertex=vertex)
    assert validate_generate_content(body, vertex=vertex) is None, body


def test_system_goes_to_system_instruction_and_user_turn_added():
    body = to_gemini_request(FIXTURES["system_only"])
    assert body["systemInstruction"] == {"parts": [{"text": "s"}]}
    assert body["contents"][0]["role"] == "user"


def test_params_mapping():
    body = to_gemini_request(FIXTURES["params"])
    assert body["generationConfig"] == {
        "temperature": 0.3, "topP": 0.9, "maxOutputTokens": 100, "candidateCount": 2, "stopSequences": ["a", "b"],
        "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": 0.1, "responseLogprobs": True, "logprobs": 3,
    }
    assert "labels" not in body


def test_user_becomes_vertex_label():
    body = to_gemini_request(FIXTURES["params"], vertex=True)
    assert body["labels"] == {"user": "alice_example"}


def test_deployment_max_tokens_is_default():
    body = to_gemini_request(FIXTURES["plain"], deployment={"max_tokens": 50})
    assert body["generationConfig"]["maxOutputTokens"] == 50


def test_stop_more_than_five_is_400():
    _bad({**FIXTURES["plain"], "stop": list("abcdef")}, "stop")


@pytest.mark.parametrize("key,val", [("logit_bias", {"1": 2}), ("audio", {"voice": "x"}), ("prediction", {"type": "content"}),
                                     ("web_search_options", {}), ("modalities", ["text", "audio"]), ("foo", 1)])
def test_unsupported_params_are_400_naming_param(key, val):
    _bad({**FIXTURES["plain"], key: val}, key)


def test_unsupported_params_dropped_with_drop_params():
    req = {**FIXTURES["plain"], "logit_bias": {"1": 2}, "foo": 1}
    assert validate_generate_content(to_gemini_request({**req, "drop_params": True}), vertex=False) is None
    assert validate_generate_content(to_gemini_request(req, deployment={"drop_params": True}), vertex=False) is None


def test_null_unsupported_params_are_ignored():
    to_gemini_request({**FIXTURES["plain"], "logit_bias": None})


def test_gateway_keys_do_not_trip_check():
    req = {**FIXTURES["plain"], "mock_response": "x", "mock_testing_rate_limit_error": True, "num_retries": 2,
           "fallbacks": ["a"], "timeout": 3, "store": False, "service_tier": "auto", "metadata": {}}
    to_gemini_request(req)


def test_text_only_modalities_ok():
    to_gemini_request({**FIXTURES["plain"], "modalities": ["text"]})


@pytest.mark.parametrize("key,val", [("temperature", 3), ("top_p", -1), ("n", 0), ("max_tokens", 0), ("top_logprobs", 30)])
def test_out_of_range_params_are_400(key, val):
    _bad({**FIXTURES["plain"], key: val, "logprobs": True}, key)


def test_top_logprobs_requires_logprobs():
    _bad({**FIXTURES["plain"], "top_logprobs": 2}, "top_logprobs")


def test_reasoning_effort_25_budget_and_3_level():
    g25 = to_gemini_request(FIXTURES["thinking_25"])["generationConfig"]["thinkingConfig"]
    assert g25 == {"thinkingBudget": 1024, "includeThoughts": True}
    g3 = to_gemini_request(FIXTURES["thinking_3"])["generationConfig"]["thinkingConfig"]
    assert g3 == {"thinkingLevel": "HIGH", "includeThoughts": True}
    none = to_gemini_request({**FIXTURES["thinking_25"], "reasoning_effort": "none"})
    assert none["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    pro = to_gemini_request({**FIXTURES["thinking_25"], "model": "gemini-2.5-pro", "reasoning_effort": "none"})
    assert pro["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 128


def test_reasoning_effort_uses_deployment_model():
    body = to_gemini_request({**FIXTURES["thinking_25"], "model": "alias"}, deployment={"model": "gemini/gemini-3-flash"})
    assert body["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "LOW"


def test_reasoning_effort_bad_value_and_unsupported_model():
    _bad({**FIXTURES["thinking_25"], "reasoning_effort": "max"}, "reasoning_effort")
    _bad({**FIXTURES["thinking_25"], "model": "gemini-2.0-flash"}, "reasoning_effort")


def test_response_format():
    assert to_gemini_request(FIXTURES["json_object"])["generationConfig"] == {"responseMimeType": "application/json"}
    gen = to_gemini_request(FIXTURES["json_schema"])["generationConfig"]
    assert gen["responseJsonSchema"]["additionalProperties"] is False
    assert "responseSchema" not in gen
    _bad({**FIXTURES["plain"], "response_format": {"type": "xml"}}, "response_format.type")


def test_safety_settings_request_wins_per_category():
    dep = {"safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"},
                               {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"}]}
    body = to_gemini_request(FIXTURES["safety"], deployment=dep)
    assert body["safetySettings"] == [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"},
        {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"},
    ]


def test_safety_settings_validated():
    _bad({**FIXTURES["plain"], "safety_settings": [{"category": "HARM_X", "threshold": "OFF"}]}, "safety_settings[0].category")
    _bad({**FIXTURES["plain"], "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "NO"}]},
         "safety_settings[0].threshold")
    jail = [{"category": "HARM_CATEGORY_JAILBREAK", "threshold": "OFF"}]
    _bad({**FIXTURES["plain"], "safety_settings": jail}, "safety_settings[0].category")
    to_gemini_request({**FIXTURES["plain"], "safety_settings": jail}, vertex=True)


def test_vision_parts():
    parts = to_gemini_request(FIXTURES["vision"])["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG_B64}}
    assert parts[2] == {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.jpg"}}
    assert parts[3] == {"inlineData": {"mimeType": "audio/wav", "data": PNG_B64}}
    assert parts[4] == {"inlineData": {"mimeType": "application/pdf", "data": PNG_B64}}
    assert parts[5] == {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/doc.pdf"}}


@pytest.mark.parametrize("url", ["data:image/png;base64,@@@", "data:image/png,abc", "https://example.com/x.png"])
def test_bad_or_unfetched_image_is_400_naming_part(url):
    req = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": url}}]}]}
    _bad(req, "messages[0].content[1]")


def test_empty_user_content_is_400():
    _bad({"model": "m", "messages": [{"role": "user", "content": ""}]}, "messages[0].content")


def test_unknown_role_is_400():
    _bad({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role")
