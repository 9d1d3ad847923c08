"""Responses API JSON (dicts, exactly as OpenAI clients send/receive them) <-> gemgate.v1 protos.

The facade validates client JSON here (400s name the param) and renders protos back to OpenAI's
shapes; the router turns request protos into dicts and its response / event dicts into protos.
Semantics (what is supported) are decided in `to_chat`, so gRPC callers get the same answers.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2

from gemgate.errors import invalid
from gemgate.openai_proto import _bool, _int, _num, _obj, _str, dict_to_struct, struct_to_dict
from gemgate.v1 import responses_pb2 as pb

_TYPED = {
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning",
    "max_output_tokens", "temperature", "top_p", "metadata", "user", "store", "previous_response_id",
    "include", "drop_params", "stream",
}
_PART_FIELDS = ("text", "image_url", "file_id", "detail", "file_data", "filename", "file_url", "refusal")


# ---------------------------------------------------------------- request: JSON -> proto (facade)

def _part(part: Any, p: str) -> pb.ResponseContentPart:
    part = _obj(part, p)
    out = pb.ResponseContentPart(type=_str(part.get("type"), f"{p}.type"))
    for key in _PART_FIELDS:
        if part.get(key) is not None:
            setattr(out, key, _str(part[key], f"{p}.{key}"))
    if isinstance(part.get("annotations"), list):
        out.annotations.extend(part["annotations"])
    return out


def _parts(value: Any, p: str) -> list[pb.ResponseContentPart]:
    if not isinstance(value, list):
        raise invalid(f"{p} must be an array", p)
    return [_part(x, f"{p}[{i}]") for i, x in enumerate(value)]


def item_to_proto(item: Any, p: str) -> pb.ResponseItem:
    item = _obj(item, p)
    itype = item.get("type")
    if itype is None and "role" in item:
        itype = "message"
    out = pb.ResponseItem(type=_str(itype, f"{p}.type"))
    for key in ("id", "status", "role", "call_id", "name", "arguments"):
        if item.get(key) is not None:
            setattr(out, key, _str(item[key], f"{p}.{key}"))
    content = item.get("content")
    if isinstance(content, str):
        out.content_text = content
    elif content is not None:
        out.content.extend(_parts(content, f"{p}.content"))
    output = item.get("output")
    if isinstance(output, str):
        out.output = output
    elif output is not None:
        out.output_parts.extend(_parts(output, f"{p}.output"))
    if item.get("summary") is not None:
        out.summary.extend(_parts(item["summary"], f"{p}.summary"))
    if item.get("encrypted_content") is not None:
        out.encrypted_content = _str(item["encrypted_content"], f"{p}.encrypted_content")
    return out


def _tool(tool: Any, p: str) -> pb.ResponseTool:
    tool = _obj(tool, p)
    out = pb.ResponseTool(type=_str(tool.get("type", "function"), f"{p}.type"))
    if out.type != "function":
        return out  # hosted tools: refused (naming them) by the translator, not here
    out.name = _str(tool.get("name"), f"{p}.name")
    if tool.get("description") is not None:
        out.description = _str(tool["description"], f"{p}.description")
    if tool.get("parameters") is not None:
        out.parameters.CopyFrom(dict_to_struct(_obj(tool["parameters"], f"{p}.parameters"), f"{p}.parameters"))
    if tool.get("strict") is not None:
        out.strict = _bool(tool["strict"], f"{p}.strict")
    return out


def _tool_choice(tc: Any) -> pb.ResponseToolChoice:
    if isinstance(tc, str):
        return pb.ResponseToolChoice(mode=tc)
    tc = _obj(tc, "tool_choice")
    out = pb.ResponseToolChoice(type=_str(tc.get("type"), "tool_choice.type"))
    if tc.get("name") is not None:
        out.name = _str(tc["name"], "tool_choice.name")
    return out


def _text(text: Any) -> pb.ResponseTextConfig:
    text = _obj(text, "text")
    out = pb.ResponseTextConfig()
    fmt = text.get("format")
    if fmt is not None:
        fmt = _obj(fmt, "text.format")
        out.format.type = _str(fmt.get("type"), "text.format.type")
        for key in ("name", "description"):
            if fmt.get(key) is not None:
                setattr(out.format, key, _str(fmt[key], f"text.format.{key}"))
        if fmt.get("schema") is not None:
            out.format.schema.CopyFrom(dict_to_struct(_obj(fmt["schema"], "text.format.schema"), "text.format.schema"))
        if fmt.get("strict") is not None:
            out.format.strict = _bool(fmt["strict"], "text.format.strict")
    if text.get("verbosity") is not None:
        out.verbosity = _str(text["verbosity"], "text.verbosity")
    unknown = sorted(set(text) - {"format", "verbosity"})
    if unknown:
        raise invalid(f"text.{unknown[0]} is not a supported field", f"text.{unknown[0]}")
    return out


def _reasoning(r: Any) -> pb.ResponseReasoning:
    r = _obj(r, "reasoning")
    out = pb.ResponseReasoning()
    if r.get("effort") is not None:
        out.effort = _str(r["effort"], "reasoning.effort")
    summary = r.get("summary", r.get("generate_summary"))
    if summary is not None:
        out.summary = _str(summary, "reasoning.summary")
    unknown = sorted(set(r) - {"effort", "summary", "generate_summary"})
    if unknown:
        raise invalid(f"reasoning.{unknown[0]} is not a supported field", f"reasoning.{unknown[0]}")
    return out


def request_to_proto(body: Any) -> pb.CreateResponseRequest:
    """Validate a Responses API JSON body (types and shapes; 400s name the param) into the proto."""
    body = _obj(body, "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("you must provide a model parameter", "model")
    req = pb.CreateResponseRequest(model=model)
    inp = body.get("input")
    if isinstance(inp, str):
        req.input_text = inp
    elif isinstance(inp, list):
        req.input.extend(item_to_proto(x, f"input[{i}]") for i, x in enumerate(inp))
    elif inp is not None:
        raise invalid("input must be a string or an array of input items", "input")
    if body.get("instructions") is not None:
        req.instructions = _str(body["instructions"], "instructions")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise invalid("tools must be an array", "tools")
        req.tools.extend(_tool(t, f"tools[{i}]") for i, t in enumerate(tools))
    if body.get("tool_choice") is not None:
        req.tool_choice.CopyFrom(_tool_choice(body["tool_choice"]))
    for name in ("parallel_tool_calls", "store", "drop_params"):
        if body.get(name) is not None:
            setattr(req, name, _bool(body[name], name))
    if body.get("text") is not None:
        req.text.CopyFrom(_text(body["text"]))
    if body.get("reasoning") is not None:
        req.reasoning.CopyFrom(_reasoning(body["reasoning"]))
    if body.get("max_output_tokens") is not None:
        req.max_output_tokens = _int(body["max_output_tokens"], "max_output_tokens")
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            setattr(req, name, _num(body[name], name))
    if body.get("metadata") is not None:
        req.metadata.CopyFrom(dict_to_struct(_obj(body["metadata"], "metadata"), "metadata"))
    for name in ("user", "previous_response_id"):
        if body.get(name) is not None:
            setattr(req, name, _str(body[name], name))
    include = body.get("include")
    if include is not None:
        if not isinstance(include, list):
            raise invalid("include must be an array of strings", "include")
        req.include.extend(_str(x, f"include[{i}]") for i, x in enumerate(include))
    extra = {k: v for k, v in body.items() if k not in _TYPED and v is not None}
    if extra:
        req.extra.CopyFrom(dict_to_struct(extra, "body"))
    return req


# ---------------------------------------------------------------- proto -> JSON (both sides)

def part_to_dict(part: pb.ResponseContentPart) -> dict:
    t = part.type
    if t in ("output_text",):
        return {"type": t, "text": part.text, "annotations": list(_plain_list(part.annotations)), "logprobs": []}
    if t in ("input_text", "summary_text", "reasoning_text"):
        return {"type": t, "text": part.text}
    if t == "refusal":
        return {"type": t, "refusal": part.refusal}
    out: dict[str, Any] = {"type": t}
    for key in _PART_FIELDS:
        if getattr(part, key):
            out[key] = getattr(part, key)
    if t == "input_image":
        out.setdefault("detail", "auto")
    return out


def _plain_list(lv: struct_pb2.ListValue) -> list:
    s = struct_pb2.Struct()
    s.fields["v"].list_value.CopyFrom(lv)
    return struct_to_dict(s)["v"]


def item_to_dict(item: pb.ResponseItem) -> dict:
    t = item.type
    out: dict[str, Any] = {"id": item.id, "type": t} if item.id else {"type": t}
    if t == "message":
        out["role"] = item.role
        out["content"] = item.content_text if item.HasField("content_text") else [part_to_dict(p) for p in item.content]
    elif t == "function_call":
        out.update(call_id=item.call_id, name=item.name, arguments=item.arguments)
    elif t == "function_call_output":
        out["call_id"] = item.call_id
        out["output"] = item.output if item.HasField("output") else [part_to_dict(p) for p in item.output_parts]
    elif t == "reasoning":
        out["summary"] = [part_to_dict(p) for p in item.summary]
        if item.content:
            out["content"] = [part_to_dict(p) for p in item.content]
        if item.HasField("encrypted_content"):
            out["encrypted_content"] = item.encrypted_content
    if item.status:
        out["status"] = item.status
    return out


def _tools_to_dicts(tools) -> list[dict]:
    out = []
    for t in tools:
        d: dict[str, Any] = {"type": t.type}
        if t.type == "function":
            d["name"] = t.name
            d["description"] = t.description or None
            d["parameters"] = struct_to_dict(t.parameters) if t.HasField("parameters") else None
            d["strict"] = t.strict if t.HasField("strict") else None
        out.append(d)
    return out


def _tool_choice_to_json(tc: pb.ResponseToolChoice) -> Any:
    if tc.mode:
        return tc.mode
    if tc.type:
        return {"type": tc.type, "name": tc.name} if tc.name else {"type": tc.type}
    return None


def _text_to_dict(text: pb.ResponseTextConfig) -> dict:
    fmt: dict[str, Any] = {"type": text.format.type or "text"}
    if text.format.type == "json_schema":
        fmt["name"] = text.format.name
        if text.format.HasField("schema"):
            fmt["schema"] = struct_to_dict(text.format.schema)
        if text.format.description:
            fmt["description"] = text.format.description
        fmt["strict"] = text.format.strict if text.format.HasField("strict") else None
    out: dict[str, Any] = {"format": fmt}
    if text.verbosity:
        out["verbosity"] = text.verbosity
    return out


def request_to_dict(req: pb.CreateResponseRequest) -> dict:
    """The request as OpenAI JSON (router side): only the fields the caller set."""
    out: dict[str, Any] = struct_to_dict(req.extra) if req.HasField("extra") else {}
    out["model"] = req.model
    if req.HasField("input_text"):
        out["input"] = req.input_text
    elif req.input:
        out["input"] = [item_to_dict(i) for i in req.input]
    for name in ("instructions", "parallel_tool_calls", "store", "drop_params", "max_output_tokens", "temperature", "top_p"):
        if req.HasField(name):
            out[name] = getattr(req, name)
    if req.tools:
        out["tools"] = _tools_to_dicts(req.tools)
        for t in out["tools"]:
            for k in ("description", "parameters", "strict"):
                if t.get(k) is None:
                    t.pop(k, None)
    if req.HasField("tool_choice"):
        out["tool_choice"] = _tool_choice_to_json(req.tool_choice)
    if req.HasField("text"):
        out["text"] = _text_to_dict(req.text)
        if not req.text.HasField("format"):
            out["text"].pop("format")
        elif out["text"]["format"].get("strict", 0) is None:
            out["text"]["format"].pop("strict")
    if req.HasField("reasoning"):
        out["reasoning"] = {k: getattr(req.reasoning, k) for k in ("effort", "summary") if getattr(req.reasoning, k)}
    if req.HasField("metadata"):
        out["metadata"] = struct_to_dict(req.metadata)
    if req.user:
        out["user"] = req.user
    if req.previous_response_id:
        out["previous_response_id"] = req.previous_response_id
    if req.include:
        out["include"] = list(req.include)
    return out


def _usage_to_dict(u: pb.ResponseUsage) -> dict:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.input_tokens_details.cached_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.output_tokens_details.reasoning_tokens},
        "total_tokens": u.total_tokens,
    }


def response_to_dict(r: pb.Response) -> dict:
    """A Response proto as the exact OpenAI JSON object (nulls where OpenAI has nulls)."""
    return {
        "id": r.id,
        "object": r.object or "response",
        "created_at": r.created_at,
        "status": r.status,
        "error": {"code": r.error.code, "message": r.error.message} if r.HasField("error") else None,
        "incomplete_details": {"reason": r.incomplete_details.reason} if r.HasField("incomplete_details") else None,
        "instructions": r.instructions if r.HasField("instructions") else None,
        "max_output_tokens": r.max_output_tokens if r.HasField("max_output_tokens") else None,
        "model": r.model,
        "output": [item_to_dict(i) for i in r.output],
        "parallel_tool_calls": r.parallel_tool_calls if r.HasField("parallel_tool_calls") else True,
        "previous_response_id": r.previous_response_id if r.HasField("previous_response_id") else None,
        "reasoning": {"effort": r.reasoning.effort or None, "summary": r.reasoning.summary or None},
        "store": r.store if r.HasField("store") else True,
        "temperature": r.temperature if r.HasField("temperature") else None,
        "text": _text_to_dict(r.text),
        "tool_choice": _tool_choice_to_json(r.tool_choice) or "auto",
        "tools": _tools_to_dicts(r.tools),
        "top_p": r.top_p if r.HasField("top_p") else None,
        "truncation": r.truncation or "disabled",
        "usage": _usage_to_dict(r.usage) if r.HasField("usage") else None,
        "user": r.user if r.HasField("user") else None,
        "metadata": struct_to_dict(r.metadata) if r.HasField("metadata") else {},
    }


_EVENT_FIELDS = ("output_index", "content_index", "summary_index", "delta", "text", "arguments")


def event_to_dict(e: pb.ResponseStreamEvent) -> dict:
    """A stream event proto as OpenAI's event JSON."""
    out: dict[str, Any] = {"type": e.type, "sequence_number": e.sequence_number}
    if e.type == "error":
        out.update(code=e.code or None, message=e.message, param=e.param or None)
        return out
    if e.HasField("response"):
        out["response"] = response_to_dict(e.response)
    if e.item_id:
        out["item_id"] = e.item_id
    for name in _EVENT_FIELDS:
        if e.HasField(name):
            out[name] = getattr(e, name)
    if e.HasField("item"):
        out["item"] = item_to_dict(e.item)
    if e.HasField("part"):
        out["part"] = part_to_dict(e.part)
    if e.name:
        out["name"] = e.name
    if e.type in ("response.output_text.delta", "response.output_text.done"):
        out["logprobs"] = []
    return out


# ---------------------------------------------------------------- JSON -> proto (router)

def _part_from(d: dict) -> pb.ResponseContentPart:
    out = pb.ResponseContentPart(type=d.get("type", ""))
    for key in _PART_FIELDS:
        if d.get(key):
            setattr(out, key, d[key])
    if d.get("annotations"):
        out.annotations.extend(d["annotations"])
    return out


def item_from_dict(d: dict) -> pb.ResponseItem:
    """An item dict the router built (or stored) -> proto. Trusted shapes, no validation."""
    return item_to_proto(d, "item")


def response_from_dict(d: dict) -> pb.Response:
    out = pb.Response(id=d["id"], object="response", created_at=int(d.get("created_at") or 0),
                      status=d.get("status") or "", model=d.get("model") or "",
                      truncation=d.get("truncation") or "disabled")
    if d.get("error"):
        out.error.code = d["error"].get("code") or ""
        out.error.message = d["error"].get("message") or ""
    if d.get("incomplete_details"):
        out.incomplete_details.reason = d["incomplete_details"].get("reason") or ""
    for name in ("instructions", "previous_response_id", "user", "parallel_tool_calls", "store",
                 "temperature", "top_p", "max_output_tokens"):
        if d.get(name) is not None:
            setattr(out, name, d[name])
    out.output.extend(item_from_dict(i) for i in d.get("output") or ())
    reasoning = d.get("reasoning") or {}
    out.reasoning.effort = reasoning.get("effort") or ""
    out.reasoning.summary = reasoning.get("summary") or ""
    if d.get("text"):
        out.text.CopyFrom(_text(d["text"]))
    if d.get("tool_choice") is not None:
        out.tool_choice.CopyFrom(_tool_choice(d["tool_choice"]))
    for i, t in enumerate(d.get("tools") or ()):
        out.tools.append(_tool({k: v for k, v in t.items() if v is not None}, f"tools[{i}]"))
    u = d.get("usage")
    if u:
        out.usage.input_tokens = u.get("input_tokens") or 0
        out.usage.input_tokens_details.cached_tokens = (u.get("input_tokens_details") or {}).get("cached_tokens") or 0
        out.usage.output_tokens = u.get("output_tokens") or 0
        out.usage.output_tokens_details.reasoning_tokens = (u.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
        out.usage.total_tokens = u.get("total_tokens") or 0
    if d.get("metadata"):
        out.metadata.CopyFrom(dict_to_struct(d["metadata"], "metadata"))
    return out


def event_from_dict(d: dict) -> pb.ResponseStreamEvent:
    out = pb.ResponseStreamEvent(type=d["type"], sequence_number=d.get("sequence_number", 0))
    if d["type"] == "error":
        out.code = d.get("code") or ""
        out.message = d.get("message") or ""
        out.param = d.get("param") or ""
        return out
    if d.get("response") is not None:
        out.response.CopyFrom(response_from_dict(d["response"]))
    if d.get("item") is not None:
        out.item.CopyFrom(item_from_dict(d["item"]))
    if d.get("part") is not None:
        out.part.CopyFrom(_part_from(d["part"]))
    if d.get("item_id"):
        out.item_id = d["item_id"]
    for name in _EVENT_FIELDS:
        if d.get(name) is not None:
            setattr(out, name, d[name])
    if d.get("name"):
        out.name = d["name"]
    return out
