"""Anthropic Messages JSON (dicts) <-> gemgate.v1 anthropic proto messages, both directions.

The facade uses `messages_request_to_proto` (shape checks: a 400 names the field) and the
`*_to_dict` functions for answers; the router uses `messages_request_to_dict` and `*_to_proto`.
Content blocks, tools and tool_choice travel as JSON objects, so nothing the client sent is lost.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import message, struct_pb2

from gemgate.errors import invalid
from gemgate.openai_proto import _int, _num, _obj, _str, struct_to_dict, _value_to_py
from gemgate.openai_proto import dict_to_struct as _dict_to_struct
from gemgate.v1 import anthropic_pb2 as pb


MAX_DEPTH = 32  # JSON nesting a body may have: each level is two protobuf levels, whose limit is 100


def check_depth(value: Any, param: str = "body", limit: int = MAX_DEPTH) -> None:
    """A 400 (not a protobuf crash) for JSON nested deeper than `limit` levels."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise invalid(f"{param} is nested more than {limit} levels deep", param)
        stack.extend((child, depth + 1) for child in children)


def dict_to_struct(d: dict, param: str) -> struct_pb2.Struct:
    """A JSON object as a Struct; nesting deeper than protobuf allows is a 400 naming the field."""
    try:
        return _dict_to_struct(d, param)
    except message.Error:
        raise invalid(f"{param} is nested too deeply", param) from None

_TYPED = {"model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences",
          "temperature", "top_p", "top_k", "metadata", "thinking", "stream"}
_USAGE_TYPED = {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}
_RESPONSE_TYPED = {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}


def _value(v: Any, param: str) -> struct_pb2.Value:
    out = struct_pb2.Value()
    try:
        out.struct_value.update({"v": v})
    except (ValueError, TypeError):
        raise invalid(f"{param} is not valid JSON", param) from None
    except message.Error:
        raise invalid(f"{param} is nested too deeply", param) from None
    out.CopyFrom(out.struct_value.fields["v"])
    return out


def _blocks(content: Any, param: str, *, system: bool = False) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid(f"{param}: Input should be a valid string or a list of content blocks", param)
    for i, block in enumerate(content):
        where = f"{param}.{i}"
        _obj(block, where)
        btype = _str(block.get("type"), f"{where}.type")
        if system and btype != "text":
            raise invalid(f"{where}.type: system blocks must be text blocks", f"{where}.type")
        if btype == "text":
            _str(block.get("text"), f"{where}.text")


def messages_request_to_proto(body: Any, *, betas: list[str] | None = None) -> pb.AnthropicMessagesRequest:
    body = _obj(body, "body")
    check_depth(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("model: Field required", "model")
    out = pb.AnthropicMessagesRequest(model=model)
    if body.get("max_tokens") is not None:
        out.max_tokens = _int(body["max_tokens"], "max_tokens")
        if out.max_tokens < 1:
            raise invalid("max_tokens: Input should be greater than or equal to 1", "max_tokens")
    msgs = body.get("messages")
    if not isinstance(msgs, list):
        raise invalid("messages: Field required (a list of messages)", "messages")
    for i, m in enumerate(msgs):
        _obj(m, f"messages.{i}")
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'", f"messages.{i}.role")
        extra_keys = set(m) - {"role", "content"}
        if extra_keys:
            key = sorted(extra_keys)[0]
            raise invalid(f"messages.{i}.{key}: Extra inputs are not permitted", f"messages.{i}.{key}")
        if "content" not in m:
            raise invalid(f"messages.{i}.content: Field required", f"messages.{i}.content")
        _blocks(m["content"], f"messages.{i}.content")
        out.messages.append(pb.AnthropicMessage(role=role, content=_value(m["content"], f"messages.{i}.content")))
    if body.get("system") is not None:
        _blocks(body["system"], "system", system=True)
        out.system.CopyFrom(_value(body["system"], "system"))
    if body.get("tools") is not None:
        if not isinstance(body["tools"], list):
            raise invalid("tools: Input should be a valid list", "tools")
        for i, tool in enumerate(body["tools"]):
            out.tools.append(dict_to_struct(_obj(tool, f"tools.{i}"), f"tools.{i}"))
    for key in ("tool_choice", "metadata", "thinking"):
        if body.get(key) is not None:
            getattr(out, key).CopyFrom(dict_to_struct(_obj(body[key], key), key))
    if "stop_sequences" in body and body["stop_sequences"] is not None:
        seqs = body["stop_sequences"]
        if not isinstance(seqs, list):
            raise invalid("stop_sequences: Input should be a valid list", "stop_sequences")
        out.stop_sequences.extend(_str(s, f"stop_sequences.{i}") for i, s in enumerate(seqs))
        out.has_stop_sequences = True
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            setattr(out, key, _num(body[key], key))
    if body.get("top_k") is not None:
        out.top_k = _int(body["top_k"], "top_k")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("stream: Input should be a valid boolean", "stream")
    out.stream = bool(stream)
    extra = {k: v for k, v in body.items() if k not in _TYPED}
    if extra:
        out.extra.CopyFrom(dict_to_struct(extra, "body"))
    out.betas.extend(betas or ())
    return out


def messages_request_to_dict(req: pb.AnthropicMessagesRequest) -> dict:
    """The Anthropic JSON body as the client sent it (gateway extras included, top level)."""
    out: dict[str, Any] = {"model": req.model}
    if req.HasField("max_tokens"):
        out["max_tokens"] = req.max_tokens
    out["messages"] = [{"role": m.role, "content": _value_to_py(m.content)} for m in req.messages]
    if req.HasField("system"):
        out["system"] = _value_to_py(req.system)
    if req.tools:
        out["tools"] = [struct_to_dict(t) for t in req.tools]
    for key in ("tool_choice", "metadata", "thinking"):
        if req.HasField(key):
            out[key] = struct_to_dict(getattr(req, key))
    if req.has_stop_sequences or req.stop_sequences:
        out["stop_sequences"] = list(req.stop_sequences)
    for key in ("temperature", "top_p", "top_k"):
        if req.HasField(key):
            out[key] = getattr(req, key)
    if req.stream:
        out["stream"] = True
    if req.HasField("extra"):
        for key, val in struct_to_dict(req.extra).items():
            out.setdefault(key, val)
    return out


# ---------------------------------------------------------------- responses

def usage_to_proto(u: dict | None) -> pb.AnthropicUsage:
    u = u or {}
    out = pb.AnthropicUsage(input_tokens=int(u.get("input_tokens") or 0), output_tokens=int(u.get("output_tokens") or 0))
    for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        if u.get(key) is not None:
            setattr(out, key, int(u[key]))
    extra = {k: v for k, v in u.items() if k not in _USAGE_TYPED}
    if extra:
        out.extra.CopyFrom(dict_to_struct(extra, "usage"))
    return out


def usage_to_dict(u: pb.AnthropicUsage) -> dict:
    out: dict[str, Any] = {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens}
    for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        if u.HasField(key):
            out[key] = getattr(u, key)
    if u.HasField("extra"):
        out.update(struct_to_dict(u.extra))
    return out


def message_to_proto(d: dict) -> pb.AnthropicMessagesResponse:
    out = pb.AnthropicMessagesResponse(id=str(d.get("id") or ""), type=str(d.get("type") or "message"),
                                       role=str(d.get("role") or "assistant"), model=str(d.get("model") or ""))
    for block in d.get("content") or []:
        out.content.append(dict_to_struct(block, "content"))
    if d.get("stop_reason") is not None:
        out.stop_reason = str(d["stop_reason"])
    if d.get("stop_sequence") is not None:
        out.stop_sequence = str(d["stop_sequence"])
    out.usage.CopyFrom(usage_to_proto(d.get("usage")))
    extra = {k: v for k, v in d.items() if k not in _RESPONSE_TYPED}
    if extra:
        out.extra.CopyFrom(dict_to_struct(extra, "message"))
    return out


def message_to_dict(r: pb.AnthropicMessagesResponse) -> dict:
    out: dict[str, Any] = {
        "id": r.id, "type": r.type or "message", "role": r.role or "assistant", "model": r.model,
        "content": [struct_to_dict(b) for b in r.content],
        "stop_reason": r.stop_reason if r.HasField("stop_reason") else None,
        "stop_sequence": r.stop_sequence if r.HasField("stop_sequence") else None,
        "usage": usage_to_dict(r.usage),
    }
    if r.HasField("extra"):
        for key, val in struct_to_dict(r.extra).items():
            out.setdefault(key, val)
    return out


def event_to_proto(event: dict) -> pb.AnthropicStreamEvent:
    return pb.AnthropicStreamEvent(type=str(event.get("type") or ""), data=dict_to_struct(event, "event"))


def event_to_dict(e: pb.AnthropicStreamEvent) -> dict:
    return struct_to_dict(e.data)
