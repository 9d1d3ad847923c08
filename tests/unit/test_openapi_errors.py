"""/openapi.json's error responses (rest_facade.openapi_doc.ERRORS): a plain $ref to ErrorResponse
with the status phrase, the same document FastAPI wrote for {"model": ErrorResponse}, and the
ErrorResponse schema in components."""

from __future__ import annotations

from http import HTTPStatus

from rest_facade.app import FacadeSettings, create_app


def test_error_responses_reference_the_error_envelope():
    doc = create_app(FacadeSettings(router_address="127.0.0.1:1")).openapi()
    schemas = doc["components"]["schemas"]
    assert schemas["ErrorResponse"]["properties"]["error"]["$ref"] == "#/components/schemas/ErrorBody"
    assert set(schemas["ErrorBody"]["required"]) == {"message", "type", "param", "code"}
    seen = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for code in ("401", "404", "429", "500", "503"):
                resp = op["responses"].get(code)
                if resp is None:
                    continue
                seen += 1
                assert resp["description"] == HTTPStatus(int(code)).phrase, (path, method, code)
                assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    assert seen >= 50  # the OpenAI and management routes
    chat = doc["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert chat["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "422" not in chat


def test_description_models_load_only_when_the_document_is_asked_for():
    """rest_facade.openapi_models is not imported by a facade that has not served /openapi.json (it
    costs memory in every facade process); asking for the document loads it and every $ref resolves."""
    import subprocess
    import sys

    code = """
import json, sys
from rest_facade.app import FacadeSettings, create_app
app = create_app(FacadeSettings(router_address="127.0.0.1:1"))
before = "rest_facade.openapi_models" in sys.modules
doc = app.openapi()
refs = set()
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "$ref":
                refs.add(v.rsplit("/", 1)[1])
            walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
walk(doc)
print(json.dumps({"before": before, "after": "rest_facade.openapi_models" in sys.modules,
                  "missing": sorted(refs - set(doc["components"]["schemas"])),
                  "chat_200": doc["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]}))
"""
    import json

    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out["before"] is False and out["after"] is True
    assert out["missing"] == []
    assert out["chat_200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatCompletion"}
    assert "text/event-stream" in out["chat_200"]["content"]
