"""OpenAI JSON Schema -> Gemini `Schema` (OpenAPI subset). Returns None when sanitizing would lose
meaning (cycles, oneOf/allOf/not, ...): the caller then sends `parametersJsonSchema` instead."""

from __future__ import annotations

from typing import Any

_KEEP = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
         "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
         "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
_DROPPABLE = {"$schema", "$id", "additionalProperties", "strict", "examples", "$comment", "uniqueItems",
              "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "$defs", "definitions"}
_LOSSY = {"oneOf", "allOf", "not", "if", "then", "else", "patternProperties", "dependentSchemas"}


class Lossy(Exception):
    pass


def _resolve(ref: str, root: dict) -> dict:
    if not ref.startswith("#/"):
        raise Lossy(ref)
    node: Any = root
    for key in ref[2:].split("/"):
        if not isinstance(node, dict) or key not in node:
            raise Lossy(ref)
        node = node[key]
    return node


def _convert(node: Any, root: dict, seen: tuple[str, ...]) -> dict:
    if not isinstance(node, dict):
        raise Lossy("non-object schema")
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise Lossy("cycle")
        return _convert(_resolve(ref, root), root, seen + (ref,))
    if _LOSSY & node.keys():
        raise Lossy("unsupported keyword")
    out: dict[str, Any] = {}
    for key, val in node.items():
        if key in _DROPPABLE:
            continue
        if key == "const":
            out["enum"] = [val]
        elif key == "type" and isinstance(val, list):
            types = [t for t in val if t != "null"]
            if len(types) != 1:
                raise Lossy("type union")
            out["type"] = types[0]
            if "null" in val:
                out["nullable"] = True
        elif key == "properties":
            out["properties"] = {k: _convert(v, root, seen) for k, v in val.items()}
        elif key == "items":
            out["items"] = _convert(val, root, seen)
        elif key == "anyOf":
            out.update(_any_of(val, root, seen))
        elif key in _KEEP:
            out[key] = val
        else:
            raise Lossy(key)
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if out.get("type") == "object" and not out.get("properties"):
        raise Lossy("free-form object")
    return out


def _any_of(options: list, root: dict, seen: tuple[str, ...]) -> dict:
    non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
    nullable = len(non_null) != len(options)
    if len(non_null) == 1:
        out = _convert(non_null[0], root, seen)
    else:
        out = {"anyOf": [_convert(o, root, seen) for o in non_null]}
    if nullable:
        out["nullable"] = True
    return out


def to_gemini_schema(schema: dict) -> dict | None:
    """Sanitized Gemini Schema, or None if the schema can only be sent as raw JSON Schema."""
    try:
        return _convert(schema, schema, ())
    except Lossy:
        return None
