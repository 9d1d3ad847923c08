"""Native Gemini API (/gemini/v1beta/...) and Vertex-shaped paths (/vertex_ai/v1/...) end to end
with the official google-genai SDK pointed at gemgate, served by an AI Studio deployment, a Vertex
Gemini deployment and a Claude-on-Vertex deployment (translated), through the real CLI against the
strict fakes; the key in every form is a gemgate virtual key."""

from __future__ import annotations

import json
import time

import grpc
import httpx
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from google.oauth2.credentials import Credentials

from gemgate.gemini_proto import generate_request_to_proto, response_to_dict
from gemgate.v1 import router_pb2_grpc
from tests.e2e.conftest import TEST_KEY
from tests.e2e.gateway import start_gateway, write_config
from tests.fakes.oauth import FakeOAuth, make_service_account, write_service_account
from tests.fakes.server import serving
from tests.fakes.vertex_claude import FakeVertex

MASTER = "sk-master-gemini-native-0123456789"
CLAUDE = "claude-sonnet-4-5@20250929"


@pytest.fixture(scope="module")
def oauth():
    with serving(FakeOAuth()) as fake:
        yield fake


@pytest.fixture(scope="module")
def claude_fake(oauth):
    with serving(FakeVertex(oauth)) as fake:
        yield fake


@pytest.fixture(scope="module")
def gw(oauth, claude_fake, fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gemini-native")
    info = make_service_account(oauth.token_uri, project_id="sa-project")
    oauth.trust(info)
    fake_gemini_server.token_ok = oauth.is_valid
    sa_path = write_service_account(tmp / "sa.json", info)
    vertex = {"vertex_project": "proj-1", "vertex_location": "us-central1", "vertex_credentials": sa_path}
    cfg = {
        "model_list": [
            {"model_name": "studio", "litellm_params": {"model": "gemini/gemini-2.5-flash", "api_key": "os.environ/FAKE_GEMINI_KEY",
                                                        "api_base": f"{fake_gemini_server.base_url}/v1beta"}},
            {"model_name": "vgemini", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", **vertex,
                                                         "api_base": fake_gemini_server.base_url}},
            {"model_name": "claude", "litellm_params": {"model": f"vertex_ai/{CLAUDE}", **vertex, "vertex_location": "us-east5",
                                                        "api_base": claude_fake.base_url}},
            {"model_name": "embed", "litellm_params": {"model": "gemini/text-embedding-004", "api_key": "os.environ/FAKE_GEMINI_KEY",
                                                       "api_base": f"{fake_gemini_server.base_url}/v1beta"}},
        ],
        "router_settings": {"num_retries": 0},
        "general_settings": {"master_key": MASTER},
    }
    gateway = start_gateway(write_config(tmp, cfg), tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gateway
    assert gateway.stop() == 0, gateway.log()


@pytest.fixture(scope="module")
def key(gw):
    r = httpx.post(f"{gw.base_url}/key/generate", json={"max_budget": 5, "models": ["studio", "vgemini", "claude", "embed"]},
                   headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["key"]


@pytest.fixture
def client(gw, key):
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=f"{gw.base_url}/gemini", timeout=30_000))


@pytest.fixture
def vertex_client(gw, key):
    return genai.Client(vertexai=True, project="any-project", location="us-central1", credentials=Credentials(token=key),
                        http_options=types.HttpOptions(base_url=f"{gw.base_url}/vertex_ai", api_version="v1", timeout=30_000))


def spend(gw, key):
    r = httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers={"Authorization": f"Bearer {MASTER}"})
    return r.json()["info"]["spend"]


@pytest.mark.parametrize("group,vertex", [("studio", False), ("vgemini", True)])
def test_generate_passes_through_to_ai_studio_and_vertex(client, fake_gemini, group, vertex):
    resp = client.models.generate_content(
        model=group, contents="hello native",
        config=types.GenerateContentConfig(system_instruction="be kind", temperature=0.2, max_output_tokens=50,
                                           safety_settings=[types.SafetySetting(category="HARM_CATEGORY_HARASSMENT",
                                                                                threshold="BLOCK_ONLY_HIGH")]))
    assert resp.text == "echo: hello native"
    assert resp.usage_metadata.total_token_count > 0
    sent = fake_gemini.requests[-1]
    assert sent["vertex"] is vertex and sent["op"] == "generateContent"
    body = sent["body"]
    assert body["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 50}
    assert body["safetySettings"] == [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
    assert body["systemInstruction"]["parts"][0]["text"] == "be kind"
    if vertex:
        assert sent["path"].startswith("/v1/projects/proj-1/locations/us-central1/")  # the deployment's, not the client's
        assert all(c.get("role") for c in body["contents"])
    else:
        assert sent["headers"]["x-goog-api-key"] == TEST_KEY  # the deployment's key, never the client's


@pytest.mark.parametrize("group", ["studio", "vgemini"])
def test_stream_sse_and_function_calls(client, fake_gemini, group):
    chunks = list(client.models.generate_content_stream(model=group, contents="stream me"))
    assert "".join(c.text or "" for c in chunks) == "echo: stream me"
    assert chunks[-1].usage_metadata.total_token_count > 0
    fake_gemini.enqueue("gemini-2.5-flash", {"body": {
        "candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}]},
            "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}}})
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather", parameters=types.Schema(
            type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))])
    resp = client.models.generate_content(model=group, contents="weather?", config=types.GenerateContentConfig(
        tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)))
    call = resp.function_calls[0]
    assert call.name == "get_weather" and call.args == {"city": "Paris"}
    assert resp.candidates[0].content.parts[0].thought_signature == b"sig"
    follow = client.models.generate_content(model=group, contents=[
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        resp.candidates[0].content,
        types.Content(role="user", parts=[types.Part.from_function_response(name="get_weather", response={"t": 20})]),
        types.Content(role="user", parts=[types.Part(text="thanks")])], config=types.GenerateContentConfig(tools=[tool]))
    assert follow.text == "echo: thanks"
    sent = fake_gemini.requests[-1]["body"]["contents"]
    assert sent[1]["parts"][0]["thoughtSignature"] == "c2ln"  # passed through untouched


def test_json_array_stream_form(gw, key, fake_gemini):
    r = httpx.post(f"{gw.base_url}/gemini/v1beta/models/studio:streamGenerateContent", params={"key": key},
                   json={"contents": [{"role": "user", "parts": [{"text": "array form"}]}]}, timeout=30)
    assert r.status_code == 200
    events = json.loads(r.text)
    assert "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events) == "echo: array form"


def test_count_tokens_embeddings_and_models(client, fake_gemini):
    assert client.models.count_tokens(model="studio", contents="one two three").total_tokens == 4
    assert client.models.count_tokens(model="vgemini", contents="one two").total_tokens == 3
    single = client.models.embed_content(model="embed", contents="hello",
                                         config=types.EmbedContentConfig(output_dimensionality=8))
    assert len(single.embeddings) == 1 and len(single.embeddings[0].values) == 8
    batch = client.models.embed_content(model="embed", contents=["a", "b", "c"])
    assert len(batch.embeddings) == 3
    names = [m.name for m in client.models.list()]
    assert "models/studio" in names and "models/claude" in names
    assert client.models.get(model="vgemini").name == "models/vgemini"


def test_claude_group_is_translated(client, claude_fake):
    resp = client.models.generate_content(model="claude", contents="hi claude",
                                          config=types.GenerateContentConfig(max_output_tokens=64, top_k=4))
    assert resp.text == "Hello!"
    body = claude_fake.requests[-1]["body"]
    assert body["max_tokens"] == 64 and body["top_k"] == 4 and body["messages"][0]["role"] == "user"
    chunks = list(client.models.generate_content_stream(model="claude", contents="stream claude"))
    assert "".join(c.text or "" for c in chunks) == "Hello there"
    assert chunks[-1].candidates[0].finish_reason == "STOP" and chunks[-1].usage_metadata.candidates_token_count == 7
    with pytest.raises(genai_errors.ClientError) as exc:
        client.models.generate_content(model="claude", contents="x", config=types.GenerateContentConfig(
            presence_penalty=0.5))
    assert exc.value.code == 400 and "presencePenalty" in exc.value.message
    assert client.models.count_tokens(model="claude", contents="count these words").total_tokens > 0
    assert claude_fake.requests[-1]["model"] == "count-tokens"


def test_vertex_sdk_paths(vertex_client, fake_gemini, gw, key):
    before = spend(gw, key)
    resp = vertex_client.models.generate_content(model="vgemini", contents="via vertex sdk")
    assert resp.text == "echo: via vertex sdk"
    sent = fake_gemini.requests[-1]
    assert sent["vertex"] and sent["project"] == "proj-1"  # the configured deployment, never the client's project
    chunks = list(vertex_client.models.generate_content_stream(model="studio", contents="vertex to studio"))
    assert "".join(c.text or "" for c in chunks) == "echo: vertex to studio"
    deadline = time.monotonic() + 5
    while spend(gw, key) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert spend(gw, key) > before


def test_keys_and_google_errors(gw, key, fake_gemini):
    url = f"{gw.base_url}/gemini/v1beta/models/studio:generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    assert httpx.post(url, json=body, headers={"x-goog-api-key": key}).status_code == 200
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    bad = httpx.post(url, json=body, params={"key": "sk-wrong"})
    assert bad.status_code == 401 and bad.json()["error"]["status"] == "UNAUTHENTICATED"
    unknown = httpx.post(f"{gw.base_url}/gemini/v1beta/models/gemini-2.5-flash:generateContent", json=body,
                         params={"key": key})
    assert unknown.status_code in (403, 404) and "error" in unknown.json()  # upstream names are not groups
    bad_body = httpx.post(url, json={"contents": [{"parts": "x"}]}, params={"key": key})
    assert bad_body.status_code == 400 and bad_body.json()["error"]["status"] == "INVALID_ARGUMENT"
    upstream = httpx.post(url, json={**body, "generationConfig": {"temperature": "hot"}}, params={"key": key})
    assert upstream.status_code == 400 and upstream.json()["error"]["code"] == 400
    vertex_labels = httpx.post(url, json={**body, "labels": {"team": "a"}}, params={"key": key})
    assert vertex_labels.status_code == 400 and "labels" in vertex_labels.json()["error"]["message"]
    other = httpx.post(f"{gw.base_url}/vertex_ai/v1/projects/p/locations/l/publishers/anthropic/models/x:rawPredict",
                       json={"anthropic_version": "vertex-2023-10-16", "max_tokens": 5,
                             "messages": [{"role": "user", "content": "hi"}]}, headers={"Authorization": f"Bearer {key}"})
    assert other.status_code in (403, 404)  # `x` is no model group: not an open proxy
    assert not any(r["path"].endswith("x:rawPredict") for r in fake_gemini.requests)


def test_batched_stream_carries_the_same_responses_in_fewer_messages(gw, key, fake_gemini):
    """The facade's StreamGeminiGenerateContentBatched: a burst of upstream events in fewer gRPC
    messages, the very responses of StreamGeminiGenerateContent in order, the route facts on the first
    message only; both stream forms of the REST route write every one of them."""
    burst = [{"candidates": [{"content": {"role": "model", "parts": [{"text": f"b{i} "}]}}],
              "modelVersion": "gemini-2.5-flash"} for i in range(5)]
    burst[-1]["candidates"][0]["finishReason"] = "STOP"
    fake_gemini.enqueue("gemini-2.5-flash", *({"sse": burst, "burst": True} for _ in range(4)))
    req = generate_request_to_proto({"contents": [{"role": "user", "parts": [{"text": "burst"}]}]},
                                    model="studio", api="gemini")
    md = (*gw.internal_metadata, ("authorization", f"Bearer {key}"))
    with grpc.insecure_channel(gw.router_address) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        batches = list(stub.StreamGeminiGenerateContentBatched(req, metadata=md, timeout=30))
        singles = list(stub.StreamGeminiGenerateContent(req, metadata=md, timeout=30))
    batched = [r for b in batches for r in b.responses]
    assert all(b.responses for b in batches) and len(batches) < len(batched)
    assert [response_to_dict(r) for r in batched] == [response_to_dict(r) for r in singles]
    assert "".join(r["candidates"][0]["content"]["parts"][0]["text"] for r in map(response_to_dict, batched)) \
        == "b0 b1 b2 b3 b4 "
    route = dict(batches[0].route)
    assert route["x-gemgate-model-group"] == "studio" and route["x-gemgate-request-id"]
    assert all(not b.route for b in batches[1:])
    url = f"{gw.base_url}/gemini/v1beta/models/studio:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "burst"}]}]}
    r = httpx.post(url, params={"key": key, "alt": "sse"}, json=body, timeout=30)
    assert r.status_code == 200 and r.headers["x-gemgate-model-group"] == "studio"
    events = [json.loads(f.removeprefix("data: ")) for f in r.text.split("\r\n\r\n") if f]
    assert [e["candidates"][0]["content"]["parts"][0]["text"] for e in events] == [f"b{i} " for i in range(5)]
    r = httpx.post(url, params={"key": key}, json=body, timeout=30)  # the JSON array form
    assert r.status_code == 200 and r.headers["x-gemgate-model-group"] == "studio"
    assert [e["candidates"][0]["content"]["parts"][0]["text"] for e in json.loads(r.text)] == [f"b{i} " for i in range(5)]
