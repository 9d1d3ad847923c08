"""Native Gemini JSON (dicts) <-> gemgate.v1 gemini_native proto messages, both directions.

The facade uses the `*_to_proto` request functions (shape checks: a 400 names the field) and the
`*_to_dict` answer functions; the router the reverse. JSON objects inside (contents, tools,
configs) travel as Structs, so nothing the client sent is lost.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import message, struct_pb2

from gemgate.errors import invalid
from gemgate.openai_proto import _int, _obj, _str, struct_to_dict
from gemgate.openai_proto import dict_to_struct as _dict_to_struct
from gemgate.anthropic_proto import check_depth
from gemgate.v1 import gemini_native_pb2 as pb


def dict_to_struct(d: dict, param: str) -> struct_pb2.Struct:
    """A JSON object as a Struct; nesting deeper than protobuf allows is a 400 naming the field."""
    try:
        return _dict_to_struct(d, param)
    except message.Error:
        raise invalid(f"{param} is nested too deeply", param) from None

SNAKE = {"system_instruction": "systemInstruction", "tool_config": "toolConfig", "safety_settings": "safetySettings",
         "generation_config": "generationConfig", "cached_content": "cachedContent",
         "generate_content_request": "generateContentRequest", "task_type": "taskType",
         "output_dimensionality": "outputDimensionality"}
_TYPED = {"contents", "systemInstruction", "tools", "toolConfig", "safetySettings", "generationConfig",
          "cachedContent", "labels", "model"}


def camel(body: dict) -> dict:
    return {SNAKE.get(k, k): v for k, v in body.items()}


def _objects(value: Any, param: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"{param}: must be a list", param)
    return [_obj(v, f"{param}[{i}]") for i, v in enumerate(value)]


def generate_request_to_proto(body: Any, *, model: str, api: str) -> pb.GeminiGenerateRequest:
    body = camel(_obj(body, "body"))
    check_depth(body)
    out = pb.GeminiGenerateRequest(model=model, api=api)
    contents = _objects(body.get("contents"), "contents")
    for i, c in enumerate(contents):
        parts = c.get("parts")
        if not isinstance(parts, list):
            raise invalid(f"contents[{i}].parts: must be a list of parts", f"contents[{i}].parts")
        out.contents.append(dict_to_struct(c, f"contents[{i}]"))
    if body.get("systemInstruction") is not None:
        system = body["systemInstruction"]
        if isinstance(system, str):
            system = {"parts": [{"text": system}]}
        out.system_instruction.CopyFrom(dict_to_struct(_obj(system, "systemInstruction"), "systemInstruction"))
    for i, t in enumerate(_objects(body.get("tools"), "tools")):
        out.tools.append(dict_to_struct(t, f"tools[{i}]"))
    for i, s in enumerate(_objects(body.get("safetySettings"), "safetySettings")):
        out.safety_settings.append(dict_to_struct(s, f"safetySettings[{i}]"))
    for key, field in (("toolConfig", "tool_config"), ("generationConfig", "generation_config")):
        if body.get(key) is not None:
            getattr(out, field).CopyFrom(dict_to_struct(_obj(body[key], key), key))
    if body.get("cachedContent") is not None:
        out.cached_content = _str(body["cachedContent"], "cachedContent")
    if body.get("labels") is not None:
        for k, v in _obj(body["labels"], "labels").items():
            out.labels[str(k)] = _str(v, f"labels.{k}")
    extra = {k: v for k, v in body.items() if k not in _TYPED}
    if extra:
        out.extra.CopyFrom(dict_to_struct(extra, "body"))
    return out


def generate_request_to_dict(req: pb.GeminiGenerateRequest) -> dict:
    out: dict[str, Any] = {"contents": [struct_to_dict(c) for c in req.contents]}
    if req.HasField("system_instruction"):
        out["systemInstruction"] = struct_to_dict(req.system_instruction)
    if req.tools:
        out["tools"] = [struct_to_dict(t) for t in req.tools]
    if req.HasField("tool_config"):
        out["toolConfig"] = struct_to_dict(req.tool_config)
    if req.safety_settings:
        out["safetySettings"] = [struct_to_dict(s) for s in req.safety_settings]
    if req.HasField("generation_config"):
        out["generationConfig"] = struct_to_dict(req.generation_config)
    if req.cached_content:
        out["cachedContent"] = req.cached_content
    if req.labels:
        out["labels"] = dict(req.labels)
    if req.HasField("extra"):
        for key, val in struct_to_dict(req.extra).items():
            out.setdefault(key, val)
    return out


def response_to_proto(d: dict) -> pb.GeminiGenerateResponse:
    return pb.GeminiGenerateResponse(body=dict_to_struct(d, "response"))


def response_to_dict(r: pb.GeminiGenerateResponse) -> dict:
    return struct_to_dict(r.body)


# ---------------------------------------------------------------- countTokens

def count_request_to_proto(body: Any, *, model: str, api: str) -> pb.GeminiCountTokensRequest:
    body = camel(_obj(body, "body"))
    check_depth(body)
    out = pb.GeminiCountTokensRequest(model=model)
    gen = body.get("generateContentRequest")
    if gen is not None:
        if "contents" in body:
            raise invalid("send either contents or generateContentRequest, not both", "generateContentRequest")
        out.generate_content_request.CopyFrom(generate_request_to_proto(gen, model=model, api=api))
    else:
        rest = {k: v for k, v in body.items() if k != "contents"}
        out.generate_content_request.CopyFrom(generate_request_to_proto({"contents": body.get("contents") or [], **rest},
                                                                        model=model, api=api))
    return out


def count_response_to_proto(d: dict) -> pb.GeminiCountTokensResponse:
    total = d.get("totalTokens", d.get("input_tokens", 0))
    out = pb.GeminiCountTokensResponse(total_tokens=int(total or 0))
    extra = {k: v for k, v in d.items() if k not in ("totalTokens", "input_tokens")}
    if extra:
        out.extra.CopyFrom(dict_to_struct(extra, "response"))
    return out


def count_response_to_dict(r: pb.GeminiCountTokensResponse) -> dict:
    out: dict[str, Any] = {"totalTokens": r.total_tokens}
    if r.HasField("extra"):
        out.update(struct_to_dict(r.extra))
    return out


# ---------------------------------------------------------------- embeddings

def _embed_one(body: Any, param: str, model: str) -> pb.GeminiEmbedRequest:
    body = camel(_obj(body, param))
    content = _obj(body.get("content"), f"{param}.content")
    out = pb.GeminiEmbedRequest(model=model, content=dict_to_struct(content, f"{param}.content"))
    if body.get("taskType") is not None:
        out.task_type = _str(body["taskType"], f"{param}.taskType")
    if body.get("title") is not None:
        out.title = _str(body["title"], f"{param}.title")
    if body.get("outputDimensionality") is not None:
        out.output_dimensionality = _int(body["outputDimensionality"], f"{param}.outputDimensionality")
    for key in sorted(set(body) - {"content", "taskType", "title", "outputDimensionality", "model"}):
        raise invalid(f"{param}.{key}: unknown field of EmbedContentRequest", f"{param}.{key}")
    return out


def embed_request_to_proto(body: Any, *, model: str, batch: bool) -> pb.GeminiBatchEmbedRequest:
    check_depth(body)
    out = pb.GeminiBatchEmbedRequest(model=model)
    if not batch:
        out.requests.append(_embed_one(body, "body", model))
        return out
    reqs = _obj(body, "body").get("requests")
    if not isinstance(reqs, list) or not reqs:
        raise invalid("requests: must be a non-empty list", "requests")
    for i, r in enumerate(reqs):
        out.requests.append(_embed_one(r, f"requests[{i}]", model))
    return out
