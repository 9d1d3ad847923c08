"""The fake must reject what Google rejects, or the e2e tests prove nothing."""

import httpx
import pytest

GOOD = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def post(fake, path, body, key="test-key"):
    return httpx.post(f"{fake.base_url}/v1beta/models/{path}", json=body, headers={"x-goog-api-key": key} if key else {})


@pytest.mark.parametrize("body, needle", [
    ({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generation_config": {}}, 'Unknown name "generation_config"'),
    ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "valid role"),
    ({"contents": [{"role": "user", "parts": []}]}, "must not be empty"),
    ({"contents": [{"role": "user", "parts": [{"text": ""}]}]}, "empty text"),
    ({"contents": [{"role": "user", "parts": [{"text": "a", "inlineData": {"mimeType": "image/png", "data": "AA=="}}]}]}, "'data'"),
    ({"contents": []}, "contents is not specified"),
    ({**GOOD, "generationConfig": {"stopSequences": ["1", "2", "3", "4", "5", "6"]}}, "stop sequences"),
    ({**GOOD, "generationConfig": {"max_output_tokens": 5}}, 'Unknown name "max_output_tokens"'),
])
def test_rejects_invalid_bodies(fake_gemini, body, needle):
    r = post(fake_gemini, "gemini-2.5-flash:generateContent", body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["status"] == "INVALID_ARGUMENT" and needle in err["message"]


def test_auth(fake_gemini):
    assert post(fake_gemini, "m:generateContent", GOOD, key=None).status_code == 403
    r = post(fake_gemini, "m:generateContent", GOOD, key="nope")
    assert r.status_code == 400 and r.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert post(fake_gemini, "m:generateContent", GOOD).status_code == 200


def test_vertex_requires_bearer(fake_gemini):
    r = httpx.post(f"{fake_gemini.base_url}/v1/projects/p/locations/us-central1/publishers/google/models/m:generateContent", json=GOOD)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"


def test_stream_requires_alt_sse(fake_gemini):
    assert post(fake_gemini, "m:streamGenerateContent", GOOD).status_code == 400
    r = httpx.post(f"{fake_gemini.base_url}/v1beta/models/m:streamGenerateContent?alt=sse", json=GOOD, headers={"x-goog-api-key": "test-key"})
    assert r.status_code == 200 and r.text.count("data: ") == 3


def test_embeddings_strict(fake_gemini):
    ok = post(fake_gemini, "text-embedding-004:embedContent", {"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 4})
    assert len(ok.json()["embedding"]["values"]) == 4
    assert post(fake_gemini, "text-embedding-004:embedContent", {"content": {"parts": [{"text": "a"}]}, "dimensions": 4}).status_code == 400
    bad_model = {"requests": [{"model": "models/other", "content": {"parts": [{"text": "a"}]}}]}
    assert post(fake_gemini, "text-embedding-004:batchEmbedContents", bad_model).status_code == 400


@pytest.mark.parametrize("model, budget, needle", [
    ("gemini-2.5-pro", 0, "only works in thinking mode"), ("gemini-2.5-pro", 64, "between 128 and 32768"),
    ("gemini-2.5-flash", 30000, "between 1 and 24576"), ("gemini-2.5-flash-lite", 100, "between 512 and 24576"),
])
def test_thinking_budget_ranges_per_model(fake_gemini, model, budget, needle):
    body = {**GOOD, "generationConfig": {"thinkingConfig": {"thinkingBudget": budget}}}
    r = post(fake_gemini, f"{model}:generateContent", body)
    assert r.status_code == 400 and needle in r.json()["error"]["message"]
    for ok in (-1, 128 if "pro" in model else 0, 1024):
        body["generationConfig"]["thinkingConfig"]["thinkingBudget"] = ok
        assert post(fake_gemini, f"{model}:generateContent", body).status_code == 200


def test_stream_scripts_burst_and_close_early(fake_gemini):
    """`burst`: every event in one write; `close_early`: the connection drops before the body's end
    (a client reading it fails), after the events."""
    url = f"{fake_gemini.base_url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    events = [{"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}}]} for t in ("a", "b")]
    fake_gemini.enqueue("gemini-2.5-flash", {"sse": events, "burst": True})
    r = httpx.post(url, json=GOOD, headers={"x-goog-api-key": "test-key"})
    assert r.status_code == 200 and r.text.count("data: ") == 2
    fake_gemini.enqueue("gemini-2.5-flash", {"sse": events, "close_early": True})
    got = b""
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("POST", url, json=GOOD, headers={"x-goog-api-key": "test-key"}) as r:
            for part in r.iter_bytes():
                got += part
    assert got.count(b"data: ") == 2  # the events came before the cut
