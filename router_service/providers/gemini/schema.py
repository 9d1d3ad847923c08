"""OpenAI JSON Schema -> Gemini `Schema` (OpenAPI subset). Returns None when sanitizing would lose
meaning (cycles, oneOf/allOf/not, ...): the caller then sends `parametersJsonSchema` instead.

Key order is the client's, exactly (properties, required, enum are copied in order; the facade
carries schemas as JSON text, never as a protobuf Struct map whose order depends on the hash seed),
and objects get `propertyOrdering` so Gemini generates their keys in that order."""

from __future__ import annotations

from typing import Any

_KEEP = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
         "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
         "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
_DROPPABLE = {"$schema", "$id", "additionalProperties", "strict", "examples", "$comment", "uniqueItems",
              "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "$defs", "definitions"}
_LOSSY = {"oneOf", "allOf", "not", "if", "then", "else", "patternProperties", "dependentSchemas"}


_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}
_FORMATS = {"STRING": ("enum", "date-time"), "NUMBER": ("float", "double"), "INTEGER": ("int32", "int64")}


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
            if not isinstance(val, str):
                raise Lossy("non-string const")
            out["enum"] = [val]
        elif key == "type":
            out.update(_type(val))
        elif key == "format":
            continue  # re-added below only when Gemini supports it for the type
        elif key == "enum":
            if not all(isinstance(v, str) for v in val):
                raise Lossy("non-string enum")
            out["enum"] = list(val)
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
        out["type"] = "STRING"
    if node.get("format") in _FORMATS.get(out.get("type"), ()):
        out["format"] = node["format"]
    if out.get("type") == "OBJECT" and not out.get("properties"):
        raise Lossy("free-form object")
    if len(out.get("properties") or ()) > 1 and "propertyOrdering" not in out:
        # Gemini orders generated object keys alphabetically unless told: keep the client's order
        out["propertyOrdering"] = list(out["properties"])
    if out.get("type") == "ARRAY" and "items" not in out:
        raise Lossy("array without items")
    return out


def _type(val: Any) -> dict:
    names = val if isinstance(val, list) else [val]
    if not all(isinstance(t, str) and t.lower() in _TYPES for t in names):
        raise Lossy("unknown type")
    non_null = [t for t in names if t.lower() != "null"]
    if len(non_null) > 1:
        raise Lossy("type union")
    if not non_null:
        return {"type": "NULL"}
    out: dict[str, Any] = {"type": non_null[0].upper()}
    if len(non_null) != len(names):
        out["nullable"] = True
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
