"""/openapi.json's error responses (rest_facade.openapi_models.ERRORS): a plain $ref to ErrorResponse
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
