"""Native Gemini: pass-through body differences (AI Studio vs Vertex) and the Gemini <-> OpenAI
translation used for Claude deployments (pure)."""

from __future__ import annotations

import pytest

from gemgate.errors import GatewayError
from router_service.native import gemini_openai as g2o
from router_service.native import gemini_passthrough as gp

BODY = {"contents": [{"parts": [{"text": "hi"}]},
                     {"role": "model", "parts": [{"functionCall": {"id": "a", "name": "f", "args": {}}, "thoughtSignature": "s"}]},
                     {"role": "user", "parts": [{"functionResponse": {"id": "a", "name": "f", "response": {"x": 1}}}]}],
        "system_instruction": {"parts": [{"text": "sys"}]}}


def test_vertex_gets_roles_and_no_function_ids_ai_studio_keeps_them():
    v = gp.upstream_body(BODY, vertex=True, deployment={}, drop=False)
    assert v["contents"][0]["role"] == "user" and "id" not in v["contents"][1]["parts"][0]["functionCall"]
    assert "id" not in v["contents"][2]["parts"][0]["functionResponse"]
    assert v["contents"][1]["parts"][0]["thoughtSignature"] == "s" and v["systemInstruction"] == BODY["system_instruction"]
    s = gp.upstream_body(BODY, vertex=False, deployment={}, drop=False)
    assert "role" not in s["contents"][0] and s["contents"][1]["parts"][0]["functionCall"]["id"] == "a"
    assert "id" in BODY["contents"][1]["parts"][0]["functionCall"]  # the input is not mutated


def test_labels_unknown_fields_and_deployment_defaults():
    with pytest.raises(GatewayError) as exc:
        gp.upstream_body({**BODY, "labels": {"a": "b"}}, vertex=False, deployment={}, drop=False)
    assert exc.value.param == "labels"
    assert "labels" not in gp.upstream_body({**BODY, "labels": {"a": "b"}}, vertex=False, deployment={}, drop=True)
    assert gp.upstream_body({**BODY, "labels": {"a": "b"}}, vertex=True, deployment={}, drop=False)["labels"] == {"a": "b"}
    with pytest.raises(GatewayError) as exc:
        gp.upstream_body({**BODY, "bogus": 1}, vertex=True, deployment={}, drop=False)
    assert exc.value.param == "bogus"
    out = gp.upstream_body(BODY, vertex=False, deployment={"max_tokens": 99, "safety_settings": [{"category": "C", "threshold": "T"}]}, drop=False)
    assert out["generationConfig"] == {"maxOutputTokens": 99} and out["safetySettings"][0]["category"] == "C"


def test_count_bodies():
    body = gp.upstream_body(BODY, vertex=False, deployment={}, drop=False)
    assert gp.count_body({"contents": body["contents"]}, vertex=False, upstream_model="m") == {"contents": body["contents"]}
    assert gp.count_body(body, vertex=False, upstream_model="m")["generateContentRequest"]["model"] == "models/m"
    assert set(gp.count_body(body, vertex=True, upstream_model="m")) == {"contents", "systemInstruction"}


def test_stream_tracker_requires_an_end():
    tr = gp.GeminiEventTracker()
    tr.see({"candidates": [{"content": {"parts": [{"text": "a"}]}}]})
    with pytest.raises(GatewayError):
        tr.finish()
    tr.see({"candidates": [{"finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 3}})
    tr.finish()
    assert tr.openai_usage()["completion_tokens"] == 3


def test_gemini_to_openai_mapping():
    body = {**BODY, "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT", "properties": {
        "x": {"type": "STRING", "nullable": True}}}}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        "generationConfig": {"temperature": 0.1, "topK": 3, "maxOutputTokens": 20, "stopSequences": ["Z"],
                             "responseMimeType": "application/json", "thinkingConfig": {"thinkingBudget": 2000}}}
    out = g2o.to_openai(body, group="g")
    assert out["messages"][0] == {"role": "system", "content": "sys"}
    assert out["messages"][2]["tool_calls"][0]["id"] == "a"
    assert out["messages"][3] == {"role": "tool", "tool_call_id": "a", "content": '{"x": 1}'}
    assert out["tools"][0]["function"]["parameters"]["properties"]["x"] == {"type": ["string", "null"]}
    assert out["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert (out["temperature"], out["top_k"], out["max_tokens"], out["stop"]) == (0.1, 3, 20, ["Z"])
    assert out["response_format"] == {"type": "json_object"}
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2000}


@pytest.mark.parametrize("patch,param", [
    ({"generationConfig": {"presencePenalty": 0.5}}, "generationConfig.presencePenalty"),
    ({"tools": [{"googleSearch": {}}]}, "tools[0].googleSearch"),
    ({"safetySettings": [{"category": "C", "threshold": "T"}]}, "safetySettings"),
    ({"cachedContent": "cachedContents/1"}, "cachedContent"),
    ({"generationConfig": {"candidateCount": 2}}, "generationConfig.candidateCount"),
])
def test_gemini_fields_claude_cannot_take_are_refused(patch, param):
    with pytest.raises(GatewayError) as exc:
        g2o.to_openai({**BODY, **patch}, group="g")
    assert exc.value.param == param
    g2o.to_openai({**BODY, **patch}, group="g", drop=True)


def test_openai_answer_to_gemini():
    out = g2o.from_openai({"id": "x", "choices": [{"index": 0, "finish_reason": "length", "message": {
        "content": "hi", "reasoning_content": "r",
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": '{"a": 1}'}}]}}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 6, "completion_tokens_details": {"reasoning_tokens": 2}}}, group="g")
    parts = out["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "r", "thought": True}, {"text": "hi"}, {"functionCall": {"id": "c", "name": "f", "args": {"a": 1}}}]
    assert out["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert out["usageMetadata"] == {"promptTokenCount": 4, "candidatesTokenCount": 4, "totalTokenCount": 10, "thoughtsTokenCount": 2}
    tr = g2o.GeminiStreamFromOpenAI(group="g")
    events = tr.feed({"choices": [{"index": 0, "delta": {"content": "a"}}]})
    events += tr.feed({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]},
                                    "finish_reason": "tool_calls"}]})
    events += tr.feed({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
    events += tr.finish()
    assert events[0]["candidates"][0]["content"]["parts"] == [{"text": "a"}]
    assert events[-1]["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "f"
    assert events[-1]["usageMetadata"]["totalTokenCount"] == 2
