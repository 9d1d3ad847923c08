"""OpenAI tools / tool_choice -> Gemini tools / toolConfig."""

from __future__ import annotations

import re
from typing import Any

from gemgate.errors import invalid

from .schema import to_gemini_schema

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


def _has_parameters(params: Any) -> bool:
    if not isinstance(params, dict) or not params:
        return False
    return not (params.get("type") == "object" and not params.get("properties") and not params.get("$ref")
                and not params.get("anyOf") and not params.get("oneOf") and not params.get("allOf"))


def _declaration(tool: Any, i: int) -> dict:
    if not isinstance(tool, dict) or tool.get("type", "function") != "function" or not isinstance(tool.get("function"), dict):
        raise invalid("only tools of type 'function' are supported", f"tools[{i}]")
    fn = tool["function"]
    name = fn.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise invalid("function name must start with a letter or underscore, use only [A-Za-z0-9_.:-] and be at most 64 characters", f"tools[{i}].function.name")
    decl: dict[str, Any] = {"name": name}
    if fn.get("description"):
        decl["description"] = fn["description"]
    params = fn.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise invalid("function parameters must be a JSON Schema object", f"tools[{i}].function.parameters")
    if _has_parameters(params):
        sanitized = to_gemini_schema(params)
        if sanitized is not None:
            decl["parameters"] = sanitized
        else:
            decl["parametersJsonSchema"] = params
    return decl


def to_tools(tools: list | None) -> list[dict] | None:
    if not tools:
        return None
    if not isinstance(tools, list):
        raise invalid("tools must be an array", "tools")
    return [{"functionDeclarations": [_declaration(t, i) for i, t in enumerate(tools)]}]


def to_tool_config(choice: Any, tools: list | None) -> dict | None:
    if choice is None:
        return None
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if choice == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        known = {t.get("function", {}).get("name") for t in tools or [] if isinstance(t, dict)}
        if name not in known:
            raise invalid(f"tool_choice names unknown function {name!r}", "tool_choice")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    raise invalid("tool_choice must be none, auto, required or {type: function, function: {name}}", "tool_choice")
