"""OpenAI JSON (dicts) <-> gemgate.v1 proto messages, both directions.

The facade uses `chat_request_to_proto` (validating client input, 400s name the param) and
`*_to_dict` for responses; the router uses `chat_request_to_dict` and `*_to_proto`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from google.protobuf import struct_pb2

from gemgate import safejson
from gemgate.errors import invalid
from gemgate.v1 import router_pb2 as pb

# Typed top-level fields of ChatCompletionRequest; everything else goes to `extra`.
_FLOAT_PARAMS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_INT_PARAMS = ("max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs")
_BOOL_PARAMS = ("logprobs", "parallel_tool_calls", "drop_params")
_TYPED = {
    "model", "messages", "stop", "tools", "tool_choice", "response_format", "reasoning_effort",
    "user", "stream_options", "metadata", "stream", *_FLOAT_PARAMS, *_INT_PARAMS, *_BOOL_PARAMS,
}
ROLES = ("system", "developer", "user", "assistant", "tool", "function")

# Accepted ranges (OpenAI's documented ranges; int32 where Gemini's field is int32). A provider's
# own, tighter limit (e.g. a model's output token limit) is checked by its translator.
INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0), "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0), "frequency_penalty": (-2.0, 2.0),
    "max_tokens": (1, INT32_MAX), "max_completion_tokens": (1, INT32_MAX),
    "n": (1, 128), "seed": (INT64_MIN, INT64_MAX), "top_logprobs": (0, 20),
    "dimensions": (1, 65536),
}
# A google.protobuf.Struct nests two proto levels per JSON level and gRPC decodes at most 100:
# metadata and extra parameters carried as Struct may nest this deep (JSON levels below the field).
STRUCT_MAX_DEPTH = 32


# ---------------------------------------------------------------- Struct helpers

def _plain(value: Any) -> Any:
    """Struct numbers are doubles; give integral ones back as ints (JSON Schema minItems etc.)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def struct_to_dict(s: struct_pb2.Struct) -> dict:
    out: dict = {}
    for key, val in s.fields.items():
        out[key] = _value_to_py(val)
    return out


def _value_to_py(v: struct_pb2.Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_dict(v.struct_value)
    if kind == "list_value":
        return [_value_to_py(x) for x in v.list_value.values]
    if kind == "number_value":
        return _plain(v.number_value)
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    return None


def dict_to_struct(d: dict, param: str) -> struct_pb2.Struct:
    safejson.check_depth(d, STRUCT_MAX_DEPTH, base=(param,) if param != "body" else ())
    s = struct_pb2.Struct()
    try:
        s.update(d)
    except (ValueError, TypeError):
        raise invalid(f"{param} must be a JSON object", param) from None
    return s


# ---------------------------------------------------------------- validation helpers

def _in_range(v, param: str):
    lo, hi = RANGES.get(param, (None, None))
    if lo is not None and not lo <= v <= hi:
        raise invalid(f"{param} must be between {lo} and {hi}; got {v}", param, code="out_of_range")
    return v


def _num(v: Any, param: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise invalid(f"{param} must be a number", param)
    return _in_range(float(v), param)


def _int(v: Any, param: str) -> int:
    if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer())):
        raise invalid(f"{param} must be an integer", param)
    return _in_range(int(v), param)


def _bool(v: Any, param: str) -> bool:
    if not isinstance(v, bool):
        raise invalid(f"{param} must be a boolean", param)
    return v


def _str(v: Any, param: str) -> str:
    if not isinstance(v, str):
        raise invalid(f"{param} must be a string", param)
    if not v.isascii():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid(f"{param} is not valid Unicode (unpaired UTF-16 surrogate)", param) from None
    return v


def _obj(v: Any, param: str) -> dict:
    if not isinstance(v, dict):
        raise invalid(f"{param} must be an object", param)
    return v


def schema_text(schema: dict, param: str) -> str:
    """A JSON Schema as JSON text for the proto: keeps the client's key order (a Struct would not)."""
    try:
        return safejson.dumps(schema)
    except TypeError:  # e.g. an integer beyond 64 bits
        raise invalid(f"{param} must be a JSON object of JSON values", param) from None


# ---------------------------------------------------------------- request: dict -> proto (facade)

def _content_part(part: Any, param: str) -> pb.ContentPart:
    part = _obj(part, param)
    ptype = _str(part.get("type"), f"{param}.type")
    out = pb.ContentPart(type=ptype)
    if ptype == "text":
        out.text = _str(part.get("text"), f"{param}.text")
    elif ptype == "image_url":
        img = part.get("image_url")
        if isinstance(img, str):
            img = {"url": img}
        img = _obj(img, f"{param}.image_url")
        out.image_url.url = _str(img.get("url"), f"{param}.image_url.url")
        if img.get("detail") is not None:
            out.image_url.detail = _str(img["detail"], f"{param}.image_url.detail")
    elif ptype == "input_audio":
        audio = _obj(part.get("input_audio"), f"{param}.input_audio")
        out.input_audio.data = _str(audio.get("data"), f"{param}.input_audio.data")
        out.input_audio.format = _str(audio.get("format"), f"{param}.input_audio.format")
    elif ptype == "file":
        f = _obj(part.get("file"), f"{param}.file")
        for key in ("file_data", "file_id", "filename", "format"):
            if f.get(key) is not None:
                setattr(out.file, key, _str(f[key], f"{param}.file.{key}"))
        if not (out.file.file_data or out.file.file_id):
            raise invalid("file part needs file_data or file_id", f"{param}.file")
    else:
        raise invalid(f"unsupported content part type {ptype!r}", f"{param}.type")
    return out


def _thinking_block(block: Any, param: str) -> pb.ThinkingBlock:
    block = _obj(block, param)
    btype = block.get("type")
    if btype not in ("thinking", "redacted_thinking"):
        raise invalid("thinking block type must be thinking or redacted_thinking", f"{param}.type")
    out = pb.ThinkingBlock(type=btype)
    for key in ("thinking", "signature", "data"):
        if block.get(key) is not None:
            setattr(out, key, _str(block[key], f"{param}.{key}"))
    return out


def thinking_blocks_to_dicts(blocks) -> list[dict]:
    out = []
    for b in blocks:
        d: dict[str, Any] = {"type": b.type}
        if b.type == "redacted_thinking":
            d["data"] = b.data
        else:
            d["thinking"] = b.thinking
            d["signature"] = b.signature
        out.append(d)
    return out


def thinking_blocks_to_proto(blocks: list[dict] | None) -> list[pb.ThinkingBlock]:
    return [pb.ThinkingBlock(type=b.get("type", "thinking"), thinking=b.get("thinking") or "",
                             signature=b.get("signature") or "", data=b.get("data") or "") for b in blocks or ()]


def _message(msg: Any, i: int) -> pb.Message:
    p = f"messages[{i}]"
    msg = _obj(msg, p)
    role = _str(msg.get("role"), f"{p}.role")
    if role not in ROLES:
        raise invalid(f"invalid role {role!r}; expected one of {', '.join(ROLES)}", f"{p}.role")
    out = pb.Message(role=role)
    content = msg.get("content")
    if isinstance(content, str):
        out.text = _str(content, f"{p}.content")
    elif isinstance(content, list):
        out.parts.SetInParent()
        for j, part in enumerate(content):
            out.parts.parts.append(_content_part(part, f"{p}.content[{j}]"))
    elif content is not None:
        raise invalid("content must be a string, an array of content parts, or null", f"{p}.content")
    if msg.get("name") is not None:
        out.name = _str(msg["name"], f"{p}.name")
    if msg.get("tool_call_id") is not None:
        out.tool_call_id = _str(msg["tool_call_id"], f"{p}.tool_call_id")
    if msg.get("reasoning_content") is not None:
        out.reasoning_content = _str(msg["reasoning_content"], f"{p}.reasoning_content")
    blocks = msg.get("thinking_blocks")
    if blocks is not None:
        if not isinstance(blocks, list):
            raise invalid("thinking_blocks must be an array", f"{p}.thinking_blocks")
        for j, block in enumerate(blocks):
            out.thinking_blocks.append(_thinking_block(block, f"{p}.thinking_blocks[{j}]"))
    calls = msg.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise invalid("tool_calls must be an array", f"{p}.tool_calls")
        for j, call in enumerate(calls):
            cp = f"{p}.tool_calls[{j}]"
            call = _obj(call, cp)
            fn = _obj(call.get("function"), f"{cp}.function")
            args = fn.get("arguments", "")
            out.tool_calls.append(
                pb.ToolCall(
                    id=_str(call.get("id"), f"{cp}.id"),
                    type=_str(call.get("type", "function"), f"{cp}.type"),
                    function=pb.FunctionCall(
                        name=_str(fn.get("name"), f"{cp}.function.name"),
                        arguments=_str(args, f"{cp}.function.arguments"),
                    ),
                )
            )
    if role == "tool" and not out.tool_call_id:
        raise invalid("messages with role 'tool' must have a tool_call_id", f"{p}.tool_call_id")
    return out


def _tool(tool: Any, i: int) -> pb.Tool:
    p = f"tools[{i}]"
    tool = _obj(tool, p)
    ttype = tool.get("type", "function")
    if ttype != "function":
        raise invalid(f"unsupported tool type {ttype!r}", f"{p}.type")
    fn = _obj(tool.get("function"), f"{p}.function")
    out = pb.Tool(type="function")
    out.function.name = _str(fn.get("name"), f"{p}.function.name")
    if fn.get("description") is not None:
        out.function.description = _str(fn["description"], f"{p}.function.description")
    if fn.get("parameters") is not None:
        out.function.parameters_json = schema_text(_obj(fn["parameters"], f"{p}.function.parameters"), f"{p}.function.parameters")
    if fn.get("strict") is not None:
        out.function.strict = _bool(fn["strict"], f"{p}.function.strict")
    return out


def _tool_choice(tc: Any) -> pb.ToolChoice:
    if isinstance(tc, str):
        if tc not in ("none", "auto", "required"):
            raise invalid("tool_choice must be none, auto, required or a function object", "tool_choice")
        return pb.ToolChoice(mode=tc)
    tc = _obj(tc, "tool_choice")
    fn = _obj(tc.get("function"), "tool_choice.function")
    return pb.ToolChoice(function_name=_str(fn.get("name"), "tool_choice.function.name"))


def _response_format(rf: Any) -> pb.ResponseFormat:
    rf = _obj(rf, "response_format")
    rtype = _str(rf.get("type"), "response_format.type")
    if rtype not in ("text", "json_object", "json_schema"):
        raise invalid("response_format.type must be text, json_object or json_schema", "response_format.type")
    out = pb.ResponseFormat(type=rtype)
    if rtype == "json_schema":
        js = _obj(rf.get("json_schema"), "response_format.json_schema")
        out.json_schema.name = _str(js.get("name", ""), "response_format.json_schema.name")
        if js.get("description") is not None:
            out.json_schema.description = _str(js["description"], "response_format.json_schema.description")
        if js.get("schema") is not None:
            out.json_schema.schema_json = schema_text(_obj(js["schema"], "response_format.json_schema.schema"), "response_format.json_schema.schema")
        if js.get("strict") is not None:
            out.json_schema.strict = _bool(js["strict"], "response_format.json_schema.strict")
    return out


def _model(body: dict) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("you must provide a model parameter", "model")
    return _str(model, "model")


def chat_request_to_proto(body: Any) -> pb.ChatCompletionRequest:
    """Validate an OpenAI chat request JSON body and build the proto. 400s name the param."""
    body = _obj(body, "body")
    model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages must be a non-empty array", "messages")
    req = pb.ChatCompletionRequest(model=model)
    for i, m in enumerate(messages):
        req.messages.append(_message(m, i))
    for name in _FLOAT_PARAMS:
        if body.get(name) is not None:
            setattr(req, name, _num(body[name], name))
    for name in _INT_PARAMS:
        if body.get(name) is not None:
            setattr(req, name, _int(body[name], name))
    for name in _BOOL_PARAMS:
        if body.get(name) is not None:
            setattr(req, name, _bool(body[name], name))
    stop = body.get("stop")
    if isinstance(stop, str):
        req.stop.append(_str(stop, "stop"))
    elif isinstance(stop, list):
        for j, s in enumerate(stop):
            req.stop.append(_str(s, f"stop[{j}]"))
    elif stop is not None:
        raise invalid("stop must be a string or an array of strings", "stop")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise invalid("tools must be an array", "tools")
        for i, t in enumerate(tools):
            req.tools.append(_tool(t, i))
    if body.get("tool_choice") is not None:
        req.tool_choice.CopyFrom(_tool_choice(body["tool_choice"]))
    if body.get("response_format") is not None:
        req.response_format.CopyFrom(_response_format(body["response_format"]))
    if body.get("reasoning_effort") is not None:
        req.reasoning_effort = _str(body["reasoning_effort"], "reasoning_effort")
    if body.get("user") is not None:
        req.user = _str(body["user"], "user")
    if body.get("stream_options") is not None:
        so = _obj(body["stream_options"], "stream_options")
        if so.get("include_usage") is not None:
            req.stream_options.include_usage = _bool(so["include_usage"], "stream_options.include_usage")
    if body.get("metadata") is not None:
        req.metadata.CopyFrom(dict_to_struct(_obj(body["metadata"], "metadata"), "metadata"))
    extra = {k: v for k, v in body.items() if k not in _TYPED}
    if extra:
        req.extra.CopyFrom(dict_to_struct(extra, "body"))
    return req


# ---------------------------------------------------------------- request: proto -> dict (router)

def _part_to_dict(part: pb.ContentPart) -> dict:
    if part.type == "text":
        return {"type": "text", "text": part.text}
    if part.type == "image_url":
        img = {"url": part.image_url.url}
        if part.image_url.detail:
            img["detail"] = part.image_url.detail
        return {"type": "image_url", "image_url": img}
    if part.type == "input_audio":
        return {"type": "input_audio", "input_audio": {"data": part.input_audio.data, "format": part.input_audio.format}}
    if part.type == "file":
        f = {k: getattr(part.file, k) for k in ("file_data", "file_id", "filename", "format") if getattr(part.file, k)}
        return {"type": "file", "file": f}
    return {"type": part.type}


def _message_to_dict(m: pb.Message) -> dict:
    out: dict[str, Any] = {"role": m.role}
    which = m.WhichOneof("content")
    if which == "text":
        out["content"] = m.text
    elif which == "parts":
        out["content"] = [_part_to_dict(p) for p in m.parts.parts]
    else:
        out["content"] = None
    if m.name:
        out["name"] = m.name
    if m.tool_call_id:
        out["tool_call_id"] = m.tool_call_id
    if m.HasField("reasoning_content"):
        out["reasoning_content"] = m.reasoning_content
    if m.thinking_blocks:
        out["thinking_blocks"] = thinking_blocks_to_dicts(m.thinking_blocks)
    if m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": c.type or "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in m.tool_calls
        ]
    return out


def chat_request_to_dict(req: pb.ChatCompletionRequest) -> dict:
    out: dict[str, Any] = struct_to_dict(req.extra) if req.HasField("extra") else {}
    out["model"] = req.model
    out["messages"] = [_message_to_dict(m) for m in req.messages]
    for name in (*_FLOAT_PARAMS, *_INT_PARAMS, *_BOOL_PARAMS):
        if req.HasField(name):
            out[name] = getattr(req, name)
    if req.stop:
        out["stop"] = list(req.stop)
    if req.tools:
        tools = []
        for t in req.tools:
            fn: dict[str, Any] = {"name": t.function.name}
            if t.function.description:
                fn["description"] = t.function.description
            if t.function.HasField("parameters_json"):
                fn["parameters"] = json.loads(t.function.parameters_json)
            elif t.function.HasField("parameters"):
                fn["parameters"] = struct_to_dict(t.function.parameters)
            if t.function.HasField("strict"):
                fn["strict"] = t.function.strict
            tools.append({"type": t.type or "function", "function": fn})
        out["tools"] = tools
    if req.HasField("tool_choice"):
        which = req.tool_choice.WhichOneof("choice")
        if which == "mode":
            out["tool_choice"] = req.tool_choice.mode
        elif which == "function_name":
            out["tool_choice"] = {"type": "function", "function": {"name": req.tool_choice.function_name}}
    if req.HasField("response_format"):
        rf: dict[str, Any] = {"type": req.response_format.type}
        if req.response_format.HasField("json_schema"):
            js = req.response_format.json_schema
            jd: dict[str, Any] = {"name": js.name}
            if js.description:
                jd["description"] = js.description
            if js.HasField("schema_json"):
                jd["schema"] = json.loads(js.schema_json)
            elif js.HasField("schema"):
                jd["schema"] = struct_to_dict(js.schema)
            if js.HasField("strict"):
                jd["strict"] = js.strict
            rf["json_schema"] = jd
        out["response_format"] = rf
    if req.reasoning_effort:
        out["reasoning_effort"] = req.reasoning_effort
    if req.user:
        out["user"] = req.user
    if req.HasField("stream_options"):
        out["stream_options"] = {"include_usage": req.stream_options.include_usage}
    if req.HasField("metadata"):
        out["metadata"] = struct_to_dict(req.metadata)
    return out


# ---------------------------------------------------------------- response: dict -> proto (router)

def _usage_to_proto(u: dict | None) -> pb.Usage | None:
    if not u:
        return None
    out = pb.Usage(
        prompt_tokens=u.get("prompt_tokens") or 0,
        completion_tokens=u.get("completion_tokens") or 0,
        total_tokens=u.get("total_tokens") or 0,
    )
    ptd = u.get("prompt_tokens_details") or {}
    ctd = u.get("completion_tokens_details") or {}
    out.prompt_tokens_details.cached_tokens = ptd.get("cached_tokens") or 0
    out.prompt_tokens_details.audio_tokens = ptd.get("audio_tokens") or 0
    out.completion_tokens_details.reasoning_tokens = ctd.get("reasoning_tokens") or 0
    out.completion_tokens_details.audio_tokens = ctd.get("audio_tokens") or 0
    return out


def _set_usage(out, d: dict) -> None:
    usage = _usage_to_proto(d.get("usage"))
    if usage is not None:
        out.usage.CopyFrom(usage)


def _logprobs_to_proto(lp: dict | None) -> pb.ChoiceLogprobs | None:
    if not lp:
        return None
    out = pb.ChoiceLogprobs()
    for t in lp.get("content") or []:
        tok = out.content.add(token=t.get("token", ""), logprob=t.get("logprob", 0.0), bytes=t.get("bytes") or [])
        for top in t.get("top_logprobs") or []:
            tok.top_logprobs.add(token=top.get("token", ""), logprob=top.get("logprob", 0.0), bytes=top.get("bytes") or [])
    return out


def _resp_message_to_proto(m: dict) -> pb.Message:
    out = pb.Message(role=m.get("role", "assistant"))
    if m.get("content") is not None:
        out.text = m["content"]
    if m.get("reasoning_content") is not None:
        out.reasoning_content = m["reasoning_content"]
    out.thinking_blocks.extend(thinking_blocks_to_proto(m.get("thinking_blocks")))
    for c in m.get("tool_calls") or []:
        out.tool_calls.append(
            pb.ToolCall(id=c["id"], type=c.get("type", "function"),
                        function=pb.FunctionCall(name=c["function"]["name"], arguments=c["function"].get("arguments", "")))
        )
    return out


def chat_response_to_proto(d: dict) -> pb.ChatCompletionResponse:
    out = pb.ChatCompletionResponse(
        id=d.get("id", ""), object=d.get("object", "chat.completion"), created=d.get("created", 0),
        model=d.get("model", ""), system_fingerprint=d.get("system_fingerprint") or "",
    )
    for c in d.get("choices", []):
        choice = out.choices.add(index=c.get("index", 0), finish_reason=c.get("finish_reason") or "")
        choice.message.CopyFrom(_resp_message_to_proto(c.get("message") or {}))
        lp = _logprobs_to_proto(c.get("logprobs"))
        if lp is not None:
            choice.logprobs.CopyFrom(lp)
    _set_usage(out, d)
    return out


def chat_chunk_to_proto(d: dict) -> pb.ChatCompletionChunk:
    out = pb.ChatCompletionChunk(
        id=d.get("id", ""), object=d.get("object", "chat.completion.chunk"), created=d.get("created", 0),
        model=d.get("model", ""), system_fingerprint=d.get("system_fingerprint") or "",
    )
    for c in d.get("choices", []):
        choice = out.choices.add(index=c.get("index", 0))
        if c.get("finish_reason") is not None:
            choice.finish_reason = c["finish_reason"]
        delta = c.get("delta") or {}
        pd = choice.delta
        pd.SetInParent()
        if delta.get("role") is not None:
            pd.role = delta["role"]
        if delta.get("content") is not None:
            pd.content = delta["content"]
        if delta.get("reasoning_content") is not None:
            pd.reasoning_content = delta["reasoning_content"]
        pd.thinking_blocks.extend(thinking_blocks_to_proto(delta.get("thinking_blocks")))
        for tc in delta.get("tool_calls") or []:
            t = pd.tool_calls.add(index=tc.get("index", 0))
            if tc.get("id") is not None:
                t.id = tc["id"]
            if tc.get("type") is not None:
                t.type = tc["type"]
            fn = tc.get("function") or {}
            t.function.SetInParent()
            if fn.get("name") is not None:
                t.function.name = fn["name"]
            if fn.get("arguments") is not None:
                t.function.arguments = fn["arguments"]
        lp = _logprobs_to_proto(c.get("logprobs"))
        if lp is not None:
            choice.logprobs.CopyFrom(lp)
    _set_usage(out, d)
    return out


# ---------------------------------------------------------------- response: proto -> dict (facade)

def _usage_to_dict(u: pb.Usage) -> dict:
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
        "prompt_tokens_details": {"cached_tokens": u.prompt_tokens_details.cached_tokens,
                                  "audio_tokens": u.prompt_tokens_details.audio_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.completion_tokens_details.reasoning_tokens,
                                      "audio_tokens": u.completion_tokens_details.audio_tokens},
    }


def _logprobs_to_dict(lp: pb.ChoiceLogprobs) -> dict:
    return {
        "content": [
            {
                "token": t.token, "logprob": t.logprob, "bytes": list(t.bytes) or None,
                "top_logprobs": [{"token": x.token, "logprob": x.logprob, "bytes": list(x.bytes) or None} for x in t.top_logprobs],
            }
            for t in lp.content
        ]
    }


def chat_response_to_dict(r: pb.ChatCompletionResponse) -> dict:
    choices = []
    for c in r.choices:
        m = c.message
        msg: dict[str, Any] = {"role": m.role or "assistant", "content": m.text if m.WhichOneof("content") == "text" else None}
        if m.HasField("reasoning_content"):
            msg["reasoning_content"] = m.reasoning_content
        if m.thinking_blocks:
            msg["thinking_blocks"] = thinking_blocks_to_dicts(m.thinking_blocks)
        if m.tool_calls:
            msg["tool_calls"] = [
                {"id": t.id, "type": t.type or "function", "function": {"name": t.function.name, "arguments": t.function.arguments}}
                for t in m.tool_calls
            ]
        choices.append({
            "index": c.index, "message": msg, "finish_reason": c.finish_reason or None,
            "logprobs": _logprobs_to_dict(c.logprobs) if c.HasField("logprobs") else None,
        })
    out: dict[str, Any] = {"id": r.id, "object": r.object or "chat.completion", "created": r.created, "model": r.model, "choices": choices}
    if r.HasField("usage"):
        out["usage"] = _usage_to_dict(r.usage)
    if r.system_fingerprint:
        out["system_fingerprint"] = r.system_fingerprint
    return out


def chat_chunk_to_dict(ch: pb.ChatCompletionChunk) -> dict:
    choices = []
    for c in ch.choices:
        d = c.delta
        delta: dict[str, Any] = {}
        if d.HasField("role"):
            delta["role"] = d.role
        if d.HasField("content"):
            delta["content"] = d.content
        if d.HasField("reasoning_content"):
            delta["reasoning_content"] = d.reasoning_content
        if d.thinking_blocks:
            delta["thinking_blocks"] = thinking_blocks_to_dicts(d.thinking_blocks)
        if d.tool_calls:
            tcs = []
            for t in d.tool_calls:
                tc: dict[str, Any] = {"index": t.index}
                if t.HasField("id"):
                    tc["id"] = t.id
                if t.HasField("type"):
                    tc["type"] = t.type
                fn: dict[str, Any] = {}
                if t.function.HasField("name"):
                    fn["name"] = t.function.name
                if t.function.HasField("arguments"):
                    fn["arguments"] = t.function.arguments
                tc["function"] = fn
                tcs.append(tc)
            delta["tool_calls"] = tcs
        choice: dict[str, Any] = {"index": c.index, "delta": delta,
                                  "finish_reason": c.finish_reason if c.HasField("finish_reason") else None}
        if c.HasField("logprobs"):
            choice["logprobs"] = _logprobs_to_dict(c.logprobs)
        choices.append(choice)
    out: dict[str, Any] = {"id": ch.id, "object": ch.object or "chat.completion.chunk", "created": ch.created,
                           "model": ch.model, "choices": choices}
    if ch.HasField("usage"):
        out["usage"] = _usage_to_dict(ch.usage)
    return out


# ---------------------------------------------------------------- embeddings

def embeddings_request_to_proto(body: Any) -> pb.EmbeddingsRequest:
    body = _obj(body, "body")
    model = _model(body)
    inp = body.get("input")
    if isinstance(inp, str):
        inputs = [inp]
    elif isinstance(inp, list) and inp and all(isinstance(x, str) for x in inp):
        inputs = inp
    elif isinstance(inp, list) and inp and all(isinstance(x, int) for x in inp):
        raise invalid("token-array input is not supported; send text", "input")
    else:
        raise invalid("input must be a non-empty string or array of strings", "input")
    if any(not x for x in inputs):
        raise invalid("input strings must not be empty", "input")
    for i, x in enumerate(inputs):
        _str(x, f"input[{i}]" if isinstance(inp, list) else "input")
    req = pb.EmbeddingsRequest(model=model, input=inputs)
    if body.get("dimensions") is not None:
        req.dimensions = _int(body["dimensions"], "dimensions")
    fmt = body.get("encoding_format")
    if fmt is not None:
        if fmt not in ("float", "base64"):
            raise invalid("encoding_format must be float or base64", "encoding_format")
        req.encoding_format = fmt
    if body.get("user") is not None:
        req.user = _str(body["user"], "user")
    extra = {k: v for k, v in body.items() if k not in ("model", "input", "dimensions", "encoding_format", "user")}
    if extra:
        req.extra.CopyFrom(dict_to_struct(extra, "body"))
    return req


def embeddings_request_to_dict(req: pb.EmbeddingsRequest) -> dict:
    out: dict[str, Any] = struct_to_dict(req.extra) if req.HasField("extra") else {}
    out.update(model=req.model, input=list(req.input))
    if req.HasField("dimensions"):
        out["dimensions"] = req.dimensions
    if req.user:
        out["user"] = req.user
    return out


def embeddings_response_to_proto(d: dict) -> pb.EmbeddingsResponse:
    out = pb.EmbeddingsResponse(model=d.get("model", ""))
    for item in d.get("data", []):
        out.data.add(index=item.get("index", 0), embedding=item["embedding"])
    _set_usage(out, d)
    return out


def embeddings_response_to_dict(r: pb.EmbeddingsResponse) -> dict:
    return {
        "object": "list",
        "model": r.model,
        "data": [{"object": "embedding", "index": e.index, "embedding": list(e.embedding)} for e in r.data],
        "usage": {"prompt_tokens": r.usage.prompt_tokens, "total_tokens": r.usage.total_tokens},
    }
