"""A STRICT validator of Gemini request bodies, mirroring how Google validates them.

`validate_generate_content(body, vertex=...)` and `validate_embed(op, body, vertex=...)` return
Google's error message (as Google words it, paths in snake_case like Google's parser reports them)
or None when the body would be accepted. Field sets follow googleapis
google/ai/generativelanguage/v1beta (AI Studio) and google/cloud/aiplatform/v1 (Vertex).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

_TOP = {"model", "contents", "systemInstruction", "tools", "toolConfig", "safetySettings",
        "generationConfig", "cachedContent"}
_TOP_VERTEX = _TOP | {"labels"}
_CONTENT = {"role", "parts"}
_DATA_FIELDS = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
                "codeExecutionResult")
_PART = set(_DATA_FIELDS) | {"thought", "thoughtSignature", "videoMetadata"}
_BLOB = {"mimeType", "data"}
_FILE = {"mimeType", "fileUri"}
_FCALL = {"id", "name", "args"}
_FCALL_VERTEX = {"name", "args"}
_FRESP = {"id", "name", "response"}
_FRESP_VERTEX = {"name", "response"}
_TOOL = {"functionDeclarations", "googleSearchRetrieval", "codeExecution", "googleSearch", "urlContext"}
_TOOL_VERTEX = _TOOL | {"retrieval"}
_DECL = {"name", "description", "parameters", "parametersJsonSchema", "response", "responseJsonSchema", "behavior"}
_SCHEMA = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
           "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
           "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
_SCHEMA_VERTEX = _SCHEMA | {"additionalProperties"}
_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
_TOOL_CONFIG = {"functionCallingConfig", "retrievalConfig"}
_FCC = {"mode", "allowedFunctionNames"}
_MODES = {"MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"}
_SAFETY = {"category", "threshold"}
_CATEGORIES = {"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
               "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY"}
_CATEGORIES_VERTEX = _CATEGORIES | {"HARM_CATEGORY_JAILBREAK", "HARM_CATEGORY_IMAGE_HATE",
                                    "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT", "HARM_CATEGORY_IMAGE_HARASSMENT",
                                    "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT"}
_THRESHOLDS = {"BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF"}
_GEN = {"stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema", "responseModalities",
        "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty",
        "frequencyPenalty", "responseLogprobs", "logprobs", "enableEnhancedCivicAnswers", "speechConfig",
        "thinkingConfig", "mediaResolution"}
_THINKING = {"includeThoughts", "thinkingBudget", "thinkingLevel"}
_LEVELS = {"MINIMAL", "LOW", "MEDIUM", "HIGH"}
_MIMES = {"text/plain", "application/json", "text/x.enum"}
_FN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


class Invalid(Exception):
    pass


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _at(path: str) -> str:
    return f" at '{path}'" if path else ""


def _fields(obj: Any, allowed: set[str], path: str) -> dict:
    if not isinstance(obj, dict):
        raise Invalid(f"Invalid JSON payload received. Expected an object{_at(path)}.")
    for key in obj:
        if key not in allowed:
            raise Invalid(f'Invalid JSON payload received. Unknown name "{key}"{_at(path)}: Cannot find field.')
    return obj


def _list(obj: Any, path: str) -> list:
    if not isinstance(obj, list):
        raise Invalid(f"Invalid JSON payload received. Expected an array{_at(path)}.")
    return obj


def _bad(path: str, msg: str) -> Invalid:
    return Invalid(f"* GenerateContentRequest.{path}: {msg}")


def _base64(value: Any, path: str) -> None:
    try:
        if not isinstance(value, str):
            raise ValueError
        padded = value + "=" * (-len(value) % 4)
        base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for \"{str(value)[:20]}\"") from None


def _part(part: Any, path: str, vertex: bool) -> None:
    _fields(part, _PART, path)
    set_fields = [f for f in _DATA_FIELDS if f in part]
    if not set_fields:
        raise _bad(f"{path}.data", "required oneof field 'data' must have one initialized field")
    if len(set_fields) > 1:
        raise Invalid(f"Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '{set_fields[1]}'{_at(path)}")
    if "text" in part and (not isinstance(part["text"], str) or part["text"] == ""):
        raise Invalid("Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again.")
    if "thoughtSignature" in part:
        _base64(part["thoughtSignature"], f"{path}.thought_signature")
    if "inlineData" in part:
        blob = _fields(part["inlineData"], _BLOB, f"{path}.inline_data")
        if not blob.get("mimeType"):
            raise _bad(f"{path}.inline_data.mime_type", "mime_type must be set")
        _base64(blob.get("data", ""), f"{path}.inline_data.data")
    if "fileData" in part:
        fd = _fields(part["fileData"], _FILE, f"{path}.file_data")
        if not fd.get("fileUri"):
            raise _bad(f"{path}.file_data.file_uri", "file_uri must be set")
    if "functionCall" in part:
        fc = _fields(part["functionCall"], _FCALL_VERTEX if vertex else _FCALL, f"{path}.function_call")
        _function_name(fc.get("name"), f"{path}.function_call.name")
        if "args" in fc and not isinstance(fc["args"], dict):
            raise Invalid(f"Invalid value at '{path}.function_call.args' (type.googleapis.com/google.protobuf.Struct)")
    if "functionResponse" in part:
        fr = _fields(part["functionResponse"], _FRESP_VERTEX if vertex else _FRESP, f"{path}.function_response")
        _function_name(fr.get("name"), f"{path}.function_response.name")
        if not isinstance(fr.get("response"), dict):
            raise Invalid(f"Invalid value at '{path}.function_response.response' (type.googleapis.com/google.protobuf.Struct)")


def _function_name(name: Any, path: str) -> None:
    if not isinstance(name, str) or not _FN_NAME.match(name):
        raise _bad(path, "Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, "
                         "0-9, or contain underscores, dots, colons and dashes, with a maximum length of 64.")


def _content(content: Any, path: str, vertex: bool, system: bool = False) -> dict:
    _fields(content, _CONTENT, path)
    role = content.get("role")
    role_ok = role in ("user", "model") or (not vertex and role in (None, ""))
    if not system and not role_ok:
        raise Invalid("Please use a valid role: user, model.")
    parts = _list(content.get("parts", []), f"{path}.parts")
    if not parts:
        raise _bad(f"{path}.parts", "contents.parts must not be empty.")
    for j, part in enumerate(parts):
        _part(part, f"{path}.parts[{j}]", vertex)
    return content


def _count(content: dict, field: str) -> int:
    return sum(1 for p in content["parts"] if field in p)


def _history(contents: list[dict]) -> None:
    for i, content in enumerate(contents):
        calls = _count(content, "functionCall")
        if calls and i > 0 and contents[i - 1].get("role") == "model":
            raise Invalid("Please ensure that function call turn comes immediately after a user turn or after a function response turn.")
        responses = _count(content, "functionResponse")
        if responses:
            prev_calls = _count(contents[i - 1], "functionCall") if i > 0 and contents[i - 1].get("role") == "model" else 0
            if responses != prev_calls:
                raise Invalid("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.")


def _schema(schema: Any, path: str, vertex: bool) -> None:
    _fields(schema, _SCHEMA_VERTEX if vertex else _SCHEMA, path)
    typ = schema.get("type")
    if isinstance(typ, list):
        raise Invalid(f"Invalid JSON payload received. Proto field is not repeating, cannot start list{_at(path + '.type')}.")
    if typ is not None and (not isinstance(typ, str) or typ.upper() not in _TYPES):
        raise Invalid(f"Invalid value at '{path}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), \"{typ}\"")
    if "enum" in schema and not all(isinstance(v, str) for v in _list(schema["enum"], f"{path}.enum")):
        raise Invalid(f"Invalid value at '{path}.enum' (TYPE_STRING)")
    if str(typ).upper() == "OBJECT" and not schema.get("properties") and "anyOf" not in schema:
        raise _bad(f"{path}.properties", "should be non-empty for OBJECT type")
    if str(typ).upper() == "ARRAY" and "items" not in schema:
        raise _bad(f"{path}.items", "missing field.")
    for name, sub in (schema.get("properties") or {}).items():
        _schema(sub, f"{path}.properties[{name}].value", vertex)
    if "items" in schema:
        _schema(schema["items"], f"{path}.items", vertex)
    for k, sub in enumerate(schema.get("anyOf") or []):
        _schema(sub, f"{path}.any_of[{k}]", vertex)
    for req_name in schema.get("required") or []:
        if req_name not in (schema.get("properties") or {}):
            raise _bad(f"{path}.required[{req_name}]", "property is not defined")


def _tools(tools: Any, vertex: bool) -> None:
    for i, tool in enumerate(_list(tools, "tools")):
        _fields(tool, _TOOL_VERTEX if vertex else _TOOL, f"tools[{i}]")
        for j, decl in enumerate(_list(tool.get("functionDeclarations", []), f"tools[{i}].function_declarations")):
            path = f"tools[{i}].function_declarations[{j}]"
            _fields(decl, _DECL, path)
            _function_name(decl.get("name"), f"{path}.name")
            if "parameters" in decl and "parametersJsonSchema" in decl:
                raise _bad(f"{path}.parameters_json_schema", "parameters and parameters_json_schema cannot be both set")
            if "parameters" in decl:
                _schema(decl["parameters"], f"{path}.parameters", vertex)
            if "parametersJsonSchema" in decl and not isinstance(decl["parametersJsonSchema"], dict):
                raise Invalid(f"Invalid value at '{path}.parameters_json_schema' (type.googleapis.com/google.protobuf.Value)")


def _tool_config(cfg: Any) -> None:
    _fields(cfg, _TOOL_CONFIG, "tool_config")
    fcc = _fields(cfg.get("functionCallingConfig", {}), _FCC, "tool_config.function_calling_config")
    if fcc.get("mode", "AUTO") not in _MODES:
        raise Invalid(f"Invalid value at 'tool_config.function_calling_config.mode', \"{fcc.get('mode')}\"")
    if fcc.get("allowedFunctionNames") and fcc.get("mode") not in ("ANY", "VALIDATED"):
        raise _bad("tool_config.function_calling_config.allowed_function_names",
                   "allowed_function_names can only be set when mode is ANY or VALIDATED")


def _safety(settings: Any, vertex: bool) -> None:
    for i, s in enumerate(_list(settings, "safety_settings")):
        _fields(s, _SAFETY, f"safety_settings[{i}]")
        if s.get("category") not in (_CATEGORIES_VERTEX if vertex else _CATEGORIES):
            raise Invalid(f"Invalid value at 'safety_settings[{i}].category', \"{s.get('category')}\"")
        if s.get("threshold") not in _THRESHOLDS:
            raise Invalid(f"Invalid value at 'safety_settings[{i}].threshold', \"{s.get('threshold')}\"")


def _range(gen: dict, key: str, lo: float, hi: float | None, integer: bool = False) -> None:
    if key not in gen:
        return
    val = gen[key]
    ok_type = isinstance(val, int) if integer else isinstance(val, (int, float))
    if isinstance(val, bool) or not ok_type or val < lo or (hi is not None and val > hi):
        raise _bad(f"generation_config.{_snake(key)}", f"{key} must be in [{lo}, {hi}]" if hi is not None else f"{key} must be >= {lo}")


def _generation_config(gen: Any, vertex: bool) -> None:
    _fields(gen, _GEN, "generation_config")
    _range(gen, "temperature", 0, 2)
    _range(gen, "topP", 0, 1)
    _range(gen, "topK", 1, None, integer=True)
    _range(gen, "candidateCount", 1, 8, integer=True)
    _range(gen, "maxOutputTokens", 1, None, integer=True)
    _range(gen, "presencePenalty", -2, 2)
    _range(gen, "frequencyPenalty", -2, 2)
    _range(gen, "logprobs", 0, 20, integer=True)
    _range(gen, "seed", -(2**31), 2**31 - 1, integer=True)
    if len(_list(gen.get("stopSequences", []), "generation_config.stop_sequences")) > 5:
        raise _bad("generation_config.stop_sequences", "the number of stop sequences must be at most 5")
    if "responseSchema" in gen and "responseJsonSchema" in gen:
        raise _bad("generation_config.response_json_schema", "response_schema and response_json_schema cannot be both set")
    if ("responseSchema" in gen or "responseJsonSchema" in gen) and gen.get("responseMimeType") != "application/json":
        raise _bad("generation_config.response_mime_type", "response_mime_type must be application/json when a response schema is set")
    if gen.get("responseMimeType", "text/plain") not in _MIMES:
        raise _bad("generation_config.response_mime_type", f"unsupported mime type {gen.get('responseMimeType')}")
    if "responseSchema" in gen:
        _schema(gen["responseSchema"], "generation_config.response_schema", vertex)
    if "logprobs" in gen and not gen.get("responseLogprobs"):
        raise _bad("generation_config.logprobs", "logprobs can only be set when response_logprobs is true")
    if "thinkingConfig" in gen:
        _thinking(gen["thinkingConfig"])


def _thinking(cfg: Any) -> None:
    _fields(cfg, _THINKING, "generation_config.thinking_config")
    if "thinkingBudget" in cfg and "thinkingLevel" in cfg:
        raise Invalid("You can only set only one of thinking budget and thinking level.")
    if "thinkingLevel" in cfg and cfg["thinkingLevel"] not in _LEVELS:
        raise Invalid(f"Invalid value at 'generation_config.thinking_config.thinking_level', \"{cfg['thinkingLevel']}\"")
    if "thinkingBudget" in cfg and (not isinstance(cfg["thinkingBudget"], int) or cfg["thinkingBudget"] < -1):
        raise _bad("generation_config.thinking_config.thinking_budget", "thinking_budget must be -1 or >= 0")


def _labels(labels: Any) -> None:
    if not isinstance(labels, dict):
        raise Invalid("Invalid JSON payload received. Expected an object at 'labels'.")
    for k, v in labels.items():
        if not re.match(r"^[a-z][a-z0-9_-]{0,62}$", k) or not isinstance(v, str) or not re.match(r"^[a-z0-9_-]{0,63}$", v):
            raise Invalid(f"Label keys and values must be lowercase letters, digits, '_' or '-' (<= 63 chars): {k!r}")


def _check_generate(body: Any, vertex: bool) -> None:
    _fields(body, _TOP_VERTEX if vertex else _TOP, "")
    contents = _list(body.get("contents", []), "contents")
    if not contents:
        raise _bad("contents", "contents is not specified")
    for i, c in enumerate(contents):
        _content(c, f"contents[{i}]", vertex)
    _history(contents)
    if "systemInstruction" in body:
        _content(body["systemInstruction"], "system_instruction", vertex, system=True)
    if "tools" in body:
        _tools(body["tools"], vertex)
    if "toolConfig" in body:
        _tool_config(body["toolConfig"])
    if "safetySettings" in body:
        _safety(body["safetySettings"], vertex)
    if "generationConfig" in body:
        _generation_config(body["generationConfig"], vertex)
    if "labels" in body:
        _labels(body["labels"])


def validate_generate_content(body: dict, *, vertex: bool) -> str | None:
    """Google's error message for this GenerateContentRequest body, or None if it is accepted."""
    try:
        _check_generate(body, vertex)
    except Invalid as exc:
        return str(exc)
    return None


_EMBED = {"model", "content", "taskType", "title", "outputDimensionality"}
_TASKS = {"RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING",
          "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY", "TASK_TYPE_UNSPECIFIED"}
_INSTANCE = {"content", "task_type", "title"}
_PREDICT_PARAMS = {"outputDimensionality", "autoTruncate"}


def _embed_one(req: Any, path: str) -> None:
    _fields(req, _EMBED, path)
    content = _fields(req.get("content"), _CONTENT, f"{path}.content".lstrip("."))
    parts = _list(content.get("parts", []), f"{path}.content.parts".lstrip("."))
    if not parts:
        raise Invalid("* EmbedContentRequest.content.parts: contents.parts must not be empty.")
    for j, part in enumerate(parts):
        _part(part, f"{path}.content.parts[{j}]".lstrip("."), False)
    if "taskType" in req and req["taskType"] not in _TASKS:
        raise Invalid(f"Invalid value at 'task_type', \"{req['taskType']}\"")
    if "outputDimensionality" in req and (not isinstance(req["outputDimensionality"], int) or req["outputDimensionality"] < 1):
        raise Invalid("* EmbedContentRequest.output_dimensionality: must be positive")


def _check_embed(op: str, body: Any, vertex: bool) -> None:
    if vertex:
        if op != "predict":
            raise Invalid(f"Vertex embeddings use :predict, not :{op}")
        _fields(body, {"instances", "parameters"}, "")
        instances = _list(body.get("instances"), "instances")
        if not instances:
            raise Invalid("instances must not be empty")
        for i, inst in enumerate(instances):
            _fields(inst, _INSTANCE, f"instances[{i}]")
            if not isinstance(inst.get("content"), str) or not inst["content"]:
                raise Invalid(f"instances[{i}].content must be a non-empty string")
        if "parameters" in body:
            _fields(body["parameters"], _PREDICT_PARAMS, "parameters")
        return
    if op == "embedContent":
        _embed_one(body, "")
    elif op == "batchEmbedContents":
        _fields(body, {"requests"}, "")
        reqs = _list(body.get("requests"), "requests")
        if not reqs:
            raise Invalid("* BatchEmbedContentsRequest.requests: requests must not be empty")
        for i, r in enumerate(reqs):
            _embed_one(r, f"requests[{i}]")
            if not str(r.get("model", "")).startswith("models/"):
                raise Invalid(f"* BatchEmbedContentsRequest.requests[{i}].model: model must be models/<name>")
    else:
        raise Invalid(f"unknown embed op {op!r}")


def validate_embed(op: str, body: dict, *, vertex: bool) -> str | None:
    """Google's error message for this embed request (op = embedContent | batchEmbedContents | predict)."""
    try:
        _check_embed(op, body, vertex)
    except Invalid as exc:
        return str(exc)
    return None


def thinking_budget_problem(model: str, body: Any) -> str | None:
    """Gemini 2.5's per-model thinkingBudget range (what Google answers 400 for): Pro 128-32768 and
    never 0 (it only works in thinking mode), Flash 0-24576, Flash-Lite 0 or 512-24576; -1 is dynamic."""
    gen = (body or {}).get("generationConfig") or {} if isinstance(body, dict) else {}
    budget = (gen.get("thinkingConfig") or {}).get("thinkingBudget") if isinstance(gen, dict) else None
    name = model.lower()
    if not isinstance(budget, int) or budget == -1 or not name.startswith("gemini-2.5"):
        return None
    if "pro" in name:
        if budget == 0:
            return "Budget 0 is invalid. This model only works in thinking mode."
        lo, hi = 128, 32768
    else:
        if budget == 0:
            return None
        lo, hi = (512, 24576) if "lite" in name else (1, 24576)
    if not lo <= budget <= hi:
        return f"The thinking budget {budget} is invalid. Please choose a value between {lo} and {hi}."
    return None
