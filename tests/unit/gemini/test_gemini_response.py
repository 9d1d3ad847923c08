import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.gemini.translate import from_gemini_response


def _resp(parts, reason="STOP", **extra):
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": reason, **extra}],
            "responseId": "abc", "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5,
                                                   "thoughtsTokenCount": 3, "toolUsePromptTokenCount": 2,
                                                   "cachedContentTokenCount": 4, "totalTokenCount": 20}}


def test_text_answer_and_usage():
    out = from_gemini_response(_resp([{"text": "Hel"}, {"text": "lo"}]), model="m", created=1)
    assert out["id"] == "chatcmpl-abc" and out["created"] == 1 and out["model"] == "m"
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "Hello"}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20,
                            "prompt_tokens_details": {"cached_tokens": 4},
                            "completion_tokens_details": {"reasoning_tokens": 3}}


def test_thoughts_become_reasoning_content():
    out = from_gemini_response(_resp([{"text": "hmm", "thought": True}, {"text": "42"}]), model="m")
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "42", "reasoning_content": "hmm"}


@pytest.mark.parametrize("reason,mapped", [("MAX_TOKENS", "length"), ("SAFETY", "content_filter"),
                                           ("RECITATION", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"),
                                           ("OTHER", "stop"), ("LANGUAGE", "stop"), ("MODEL_ARMOR", "content_filter")])
def test_finish_reasons(reason, mapped):
    assert from_gemini_response(_resp([{"text": "x"}], reason), model="m")["choices"][0]["finish_reason"] == mapped


def test_missing_content_and_index_defaults():
    out = from_gemini_response({"candidates": [{"finishReason": "SAFETY"}]}, model="m")
    assert out["choices"][0]["index"] == 0 and out["choices"][0]["message"]["content"] == ""
    assert out["usage"]["prompt_tokens"] == 0


@pytest.mark.parametrize("reason", ["MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"])
def test_tool_failures_are_visible_upstream_errors(reason):
    with pytest.raises(GatewayError) as exc:
        from_gemini_response(_resp([], reason, finishMessage="bad call foo("), model="m")
    assert exc.value.kind is ErrorKind.UPSTREAM_ERROR and exc.value.code == reason.lower()
    assert "bad call foo(" in exc.value.message and exc.value.retryable


def test_blocked_prompt_is_content_filter_with_null_content():
    body = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}
    out = from_gemini_response(body, model="m", n=2)
    assert [c["finish_reason"] for c in out["choices"]] == ["content_filter", "content_filter"]
    assert all(c["message"]["content"] is None for c in out["choices"])


def test_n_candidates():
    body = {"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"},
                           {"content": {"parts": [{"text": "b"}]}, "finishReason": "STOP", "index": 1}]}
    out = from_gemini_response(body, model="m")
    assert [(c["index"], c["message"]["content"]) for c in out["choices"]] == [(0, "a"), (1, "b")]


def test_logprobs_mapped():
    lp = {"chosenCandidates": [{"token": "Hi", "logProbability": -0.1}, {"token": "!", "logProbability": -0.5}],
          "topCandidates": [{"candidates": [{"token": "Hi", "logProbability": -0.1}, {"token": "Yo", "logProbability": -2.0}]},
                            {"candidates": [{"token": "!", "logProbability": -0.5}]}]}
    out = from_gemini_response(_resp([{"text": "Hi!"}], logprobsResult=lp), model="m")
    content = out["choices"][0]["logprobs"]["content"]
    assert content[0] == {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": [
        {"token": "Hi", "logprob": -0.1, "bytes": [72, 105]}, {"token": "Yo", "logprob": -2.0, "bytes": [89, 111]}]}
    assert content[1]["token"] == "!"
