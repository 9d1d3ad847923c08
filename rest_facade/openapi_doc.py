"""How the facade's routes are described in /openapi.json, without loading the description models.

Routes parse their bodies themselves (rest_facade.body: bounded, OpenAI-style 400s), so a request
body is described with `body_doc(...)` (openapi_extra) and a 200 answer with `json_answer(...)`, both
plain `$ref`s into components/schemas. The models behind the refs are named, not imported: the
OpenAI ones live in `rest_facade/openapi_models.py`, which `install(app)` loads the first time the
document is asked for (FastAPI would otherwise build a validator per route at import, and the models
themselves cost memory in every facade process for a document most gateways never serve). A route
module can also pass a model class it already has (the management bodies, which are its validators).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# schema name -> the model class, or None for a model of rest_facade.openapi_models (loaded lazily)
_REGISTRY: dict[str, Any] = {}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _register(model: Any) -> str:
    if isinstance(model, str):
        _REGISTRY.setdefault(model, None)
        return model
    _REGISTRY[model.__name__] = model
    return model.__name__


def body_doc(model: Any, *, required: bool = True) -> dict:
    """openapi_extra for a route whose JSON body is described by `model` (a class, or the name of a
    model in rest_facade.openapi_models)."""
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": _ref(_register(model))}}}}


def json_answer(model: Any, **more_content: dict) -> dict:
    """A route's 200 answer: JSON described by `model` (class or openapi_models name), plus other
    content types (e.g. `**{"text/event-stream": {}}`)."""
    return {"description": "Successful Response",
            "content": {"application/json": {"schema": _ref(_register(model))}, **more_content}}


# The error responses of every route: the OpenAI error envelope (ErrorResponse).
ERRORS = {code: {"description": HTTPStatus(code).phrase, "content": {"application/json": {"schema": _ref("ErrorResponse")}}}
          for code in (400, 401, 403, 404, 413, 429, 500, 502, 503, 504)}


def _schemas() -> dict:
    from rest_facade import openapi_models

    _REGISTRY.setdefault("ErrorResponse", None)
    out: dict = {}
    for name, model in _REGISTRY.items():
        model = model or getattr(openapi_models, name)
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(js.pop("$defs", {}))
        out[name] = js
    return out


def install(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            for item in schema.get("paths", {}).values():  # invalid input is a 400 envelope, never a 422
                for op in item.values():
                    if op.get("responses", {}).pop("422", None) is not None:
                        op["responses"].setdefault("400", {"description": "Bad Request", "content": {
                            "application/json": {"schema": _ref("ErrorResponse")}}})
            for name in ("HTTPValidationError", "ValidationError"):
                comps.pop(name, None)
            comps.update(_schemas())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
