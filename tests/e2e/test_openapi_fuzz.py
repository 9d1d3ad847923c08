"""Issue 11: /openapi.json describes the bodies well enough to fuzz them, and fuzzing the RUNNING
gateway (the real CLI: facade, router, budget service, fake Gemini upstream) gives 0 server errors.

schemathesis generates valid (positive) and invalid (negative) requests from the document, with a
fixed, derandomized example budget per operation so the run is reproducible and short.
"""

from __future__ import annotations

import collections

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config

MASTER = "sk-master-openapi-fuzz-0123456789"
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}
# Operations in issue 11's scope: OpenAI (chat, embeddings, models), management, health.
PREFIXES = ("/v1/chat", "/chat", "/v1/embeddings", "/embeddings", "/v1/models", "/models", "/key/", "/team/",
            "/user/", "/spend/", "/global/", "/health/")


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    cfg = write_config(tmp, gemini_config(fake_gemini_server.base_url, master_key=MASTER))
    gateway = start_gateway(cfg, tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def test_openapi_describes_request_and_response_bodies(gw):
    doc = httpx.get(f"{gw.base_url}/openapi.json", timeout=10).json()
    paths = doc["paths"]
    for path in ("/v1/chat/completions", "/v1/embeddings", "/key/generate", "/key/update", "/team/new", "/user/new"):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].startswith("#/components/schemas/"), path
    schemas = doc["components"]["schemas"]
    chat = schemas["ChatCompletionRequest"]
    assert {"model", "messages"} <= set(chat["required"])
    assert chat["properties"]["max_tokens"]["anyOf"][0]["maximum"] == 2**31 - 1
    assert schemas["KeyBody"]["additionalProperties"] is False
    ok = paths["/v1/chat/completions"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/ChatCompletion")
    assert paths["/v1/chat/completions"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


def test_fuzzing_the_running_gateway_finds_no_server_errors(gw, fake_gemini):
    schema = schemathesis.openapi.from_url(f"{gw.base_url}/openapi.json")
    session = requests.Session()
    headers = {"Authorization": f"Bearer {MASTER}"}
    counts: collections.Counter = collections.Counter()
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith(PREFIXES)]
    assert len(operations) >= 20, [op.label for op in operations]
    for op in operations:
        for mode, budget in EXAMPLES.items():

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=budget, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                resp = case.call(base_url=gw.base_url, session=session, headers=headers, timeout=30)
                counts[op.label] += 1
                if resp.status_code >= 500:
                    failures.append(f"{op.label} {mode.value} -> {resp.status_code} {resp.text[:300]} "
                                    f"body={str(case.body)[:300]} query={case.query}")

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters or body)
                assert mode is GenerationMode.NEGATIVE, op.label
    total = sum(counts.values())
    print(f"\n[issue11] schemathesis: {total} requests over {len(counts)} operations, {len(failures)} server errors")
    for label, n in sorted(counts.items()):
        print(f"[issue11]   {n:4d}  {label}")
    assert not failures, "\n".join(failures[:20])
