"""Native Gemini GenerateContentRequest <-> OpenAI chat shape, for model groups served by Claude
deployments (pure, no IO). Gemini deployments never see this: they get the body passed through.

Request mapping (`to_openai`): systemInstruction -> system message; contents (role user/model) ->
user/assistant messages: text parts -> text, inlineData -> data: URI image/file parts, fileData ->
URL parts, functionCall -> tool_calls (ids made up from the call order when absent),
functionResponse -> tool messages; tools.functionDeclarations -> functions (parameters or
parametersJsonSchema); toolConfig.functionCallingConfig mode AUTO/ANY/NONE (+ one
allowedFunctionName -> that function); generationConfig temperature, topP, topK, maxOutputTokens,
stopSequences, candidateCount 1, responseMimeType application/json (+ responseJsonSchema /
responseSchema) -> response_format, thinkingConfig.thinkingBudget -> thinking. Anything else
(other tools, safetySettings, cachedContent, logprobs, penalties, seed, thought parts, ...) is a 400
naming the field, unless drop_params.

`strict=False` never refuses (used only for the admission estimate).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from gemgate.errors import invalid
from router_service.native.gemini_passthrough import normalize

_GEN_MAPPED = {"temperature": "temperature", "topP": "top_p", "topK": "top_k", "maxOutputTokens": "max_tokens"}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "content_filter": "SAFETY"}


class _Mapper:
    def __init__(self, strict: bool, drop: bool) -> None:
        self.strict, self.drop = strict, drop

    def refuse(self, what: str, param: str) -> None:
        if self.strict and not self.drop:
            raise invalid(f"{param}: {what} is not supported by this model group's deployment "
                          "(set drop_params: true to drop it)", param, code="unsupported_parameter")

    def part(self, part: dict, where: str) -> dict | None:
        if not isinstance(part, dict):
            return None
        extra = sorted(k for k in part if k not in ("text", "inlineData", "inline_data", "fileData", "file_data",
                                                   "functionCall", "function_call", "functionResponse",
                                                   "function_response", "thoughtSignature", "thought_signature"))
        for key in extra:
            self.refuse(f"part field {key!r}", f"{where}.{key}")
        if isinstance(part.get("text"), str):
            return {"type": "text", "text": part["text"]}
        blob = part.get("inlineData") or part.get("inline_data")
        if isinstance(blob, dict):
            mime = str(blob.get("mimeType") or blob.get("mime_type") or "")
            uri = f"data:{mime};base64,{blob.get('data') or ''}"
            if mime.startswith("image/"):
                return {"type": "image_url", "image_url": {"url": uri}}
            return {"type": "file", "file": {"file_data": uri}}
        fdata = part.get("fileData") or part.get("file_data")
        if isinstance(fdata, dict):
            uri = str(fdata.get("fileUri") or fdata.get("file_uri") or "")
            mime = str(fdata.get("mimeType") or fdata.get("mime_type") or "")
            if mime.startswith("image/"):
                return {"type": "image_url", "image_url": {"url": uri}}
            return {"type": "file", "file": {"file_id": uri}}
        return None

    def contents(self, contents: list) -> list[dict]:
        out: list[dict] = []
        pending: list[str] = []  # ids of the last model turn's calls, answered in order
        counter = 0
        for i, content in enumerate(contents or []):
            if not isinstance(content, dict):
                continue
            role = content.get("role") or "user"
            parts = content.get("parts") or []
            where = f"contents[{i}].parts"
            if role == "model":
                texts, calls = [], []
                pending = []
                for j, p in enumerate(parts):
                    fc = (p.get("functionCall") or p.get("function_call")) if isinstance(p, dict) else None
                    if isinstance(fc, dict):
                        counter += 1
                        cid = str(fc.get("id") or f"call_{counter}")
                        pending.append(cid)
                        calls.append({"id": cid, "type": "function", "function": {
                            "name": str(fc.get("name") or ""), "arguments": json.dumps(fc.get("args") or {})}})
                        continue
                    if isinstance(p, dict) and p.get("thought"):
                        continue  # the model's own earlier thoughts are not sent back
                    mapped = self.part(p, f"{where}[{j}]")
                    if mapped and mapped["type"] == "text":
                        texts.append(mapped["text"])
                    elif mapped:
                        self.refuse("media in a model turn", f"{where}[{j}]")
                msg: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
                if calls:
                    msg["tool_calls"] = calls
                out.append(msg)
                continue
            if role != "user":
                self.refuse(f"role {role!r}", f"contents[{i}].role")
            user_parts: list[dict] = []
            answered = 0
            for j, p in enumerate(parts):
                fr = (p.get("functionResponse") or p.get("function_response")) if isinstance(p, dict) else None
                if isinstance(fr, dict):
                    cid = str(fr.get("id") or (pending[answered] if answered < len(pending) else f"call_{answered}"))
                    answered += 1
                    out.append({"role": "tool", "tool_call_id": cid,
                                "content": json.dumps(fr.get("response") or {}, ensure_ascii=False)})
                    continue
                mapped = self.part(p, f"{where}[{j}]")
                if mapped:
                    user_parts.append(mapped)
            if user_parts:
                out.append({"role": "user", "content": user_parts})
        return out

    def tools(self, body: dict, out: dict) -> None:
        fns = []
        for i, tool in enumerate(body.get("tools") or []):
            if not isinstance(tool, dict):
                continue
            for key in sorted(k for k in tool if k not in ("functionDeclarations", "function_declarations")):
                self.refuse(f"tool {key!r}", f"tools[{i}].{key}")
            for j, decl in enumerate(tool.get("functionDeclarations") or tool.get("function_declarations") or []):
                params = decl.get("parametersJsonSchema") or decl.get("parameters_json_schema") or decl.get("parameters")
                fn: dict[str, Any] = {"name": decl.get("name", ""), "parameters": _json_schema(params or {"type": "object"})}
                if decl.get("description"):
                    fn["description"] = decl["description"]
                for key in sorted(k for k in decl if k not in ("name", "description", "parameters", "parametersJsonSchema",
                                                               "parameters_json_schema")):
                    self.refuse(f"function declaration field {key!r}", f"tools[{i}].functionDeclarations[{j}].{key}")
                fns.append({"type": "function", "function": fn})
        if fns:
            out["tools"] = fns
        cfg = ((body.get("toolConfig") or {}).get("functionCallingConfig")
               or (body.get("toolConfig") or {}).get("function_calling_config") or {})
        mode = str(cfg.get("mode") or "").upper()
        names = cfg.get("allowedFunctionNames") or cfg.get("allowed_function_names") or []
        if mode in ("AUTO", "MODE_UNSPECIFIED"):
            out["tool_choice"] = "auto"
        elif mode == "NONE":
            out["tool_choice"] = "none"
        elif mode in ("ANY", "VALIDATED"):
            if len(names) == 1:
                out["tool_choice"] = {"type": "function", "function": {"name": names[0]}}
            else:
                out["tool_choice"] = "required"
                if names:
                    self.refuse("several allowedFunctionNames", "toolConfig.functionCallingConfig.allowedFunctionNames")
        elif mode:
            self.refuse(f"function calling mode {mode!r}", "toolConfig.functionCallingConfig.mode")

    def generation(self, gen: dict, out: dict) -> None:
        for key, val in gen.items():
            if val is None:
                continue
            where = f"generationConfig.{key}"
            if key in _GEN_MAPPED:
                out[_GEN_MAPPED[key]] = val
            elif key == "stopSequences":
                out["stop"] = list(val)
            elif key == "candidateCount":
                if val != 1:
                    self.refuse("candidateCount other than 1", where)
            elif key == "responseMimeType":
                if val == "application/json":
                    schema = gen.get("responseJsonSchema") or gen.get("responseSchema")
                    out["response_format"] = ({"type": "json_schema", "json_schema": {"name": "response", "schema": _json_schema(schema)}}
                                              if schema else {"type": "json_object"})
                elif val != "text/plain":
                    self.refuse(f"responseMimeType {val!r}", where)
            elif key in ("responseJsonSchema", "responseSchema"):
                continue
            elif key == "thinkingConfig":
                budget = val.get("thinkingBudget") if isinstance(val, dict) else None
                if isinstance(budget, int) and budget > 0:
                    out["thinking"] = {"type": "enabled", "budget_tokens": max(1024, budget)}
                elif budget == 0:
                    continue
                else:
                    self.refuse("thinkingConfig without a thinkingBudget", where)
            else:
                self.refuse(f"generationConfig field {key!r}", where)


def _json_schema(schema: Any) -> Any:
    """Gemini OpenAPI-style schema (upper-case types, nullable) -> JSON Schema."""
    if isinstance(schema, list):
        return [_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, val in schema.items():
        if key == "type" and isinstance(val, str):
            out["type"] = val.lower()
        elif key == "nullable":
            continue
        elif key == "properties" and isinstance(val, dict):
            out[key] = {k: _json_schema(v) for k, v in val.items()}
        elif key in ("items", "anyOf"):
            out[key] = _json_schema(val)
        elif key == "propertyOrdering":
            continue
        else:
            out[key] = val
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def to_openai(body: dict, *, group: str, strict: bool = True, drop: bool = False) -> dict:
    body = normalize(body)
    m = _Mapper(strict, drop)
    out: dict[str, Any] = {"model": group}
    messages: list[dict] = []
    system = body.get("systemInstruction")
    if isinstance(system, dict):
        texts = [p.get("text", "") for p in system.get("parts") or [] if isinstance(p, dict) and "text" in p]
        if texts:
            messages.append({"role": "system", "content": "\n".join(texts)})
    elif isinstance(system, str):
        messages.append({"role": "system", "content": system})
    messages.extend(m.contents(body.get("contents") or []))
    out["messages"] = messages
    m.tools(body, out)
    m.generation(body.get("generationConfig") or {}, out)
    for key in ("safetySettings", "cachedContent", "labels"):
        if body.get(key):
            m.refuse(f"{key}", key)
    for key in sorted(k for k in body if k not in ("contents", "systemInstruction", "tools", "toolConfig",
                                                   "generationConfig", "safetySettings", "cachedContent", "labels",
                                                   "model")):
        m.refuse(f"field {key!r}", key)
    if drop:
        out["drop_params"] = True
    return out


# ---------------------------------------------------------------- responses

def usage_metadata(usage: dict | None) -> dict:
    u = usage or {}
    prompt = int(u.get("prompt_tokens") or 0)
    completion = int(u.get("completion_tokens") or 0)
    reasoning = int(((u.get("completion_tokens_details") or {}).get("reasoning_tokens")) or 0)
    cached = int(((u.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
    out = {"promptTokenCount": prompt, "candidatesTokenCount": max(0, completion - reasoning),
           "totalTokenCount": prompt + completion}
    if reasoning:
        out["thoughtsTokenCount"] = reasoning
    if cached:
        out["cachedContentTokenCount"] = cached
    return out


def _parts(msg: dict) -> list[dict]:
    parts: list[dict] = []
    if msg.get("reasoning_content"):
        parts.append({"text": msg["reasoning_content"], "thought": True})
    if msg.get("content"):
        parts.append({"text": msg["content"]})
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            args = {"_raw_arguments": fn.get("arguments")}
        parts.append({"functionCall": {"id": call.get("id"), "name": fn.get("name", ""), "args": args}})
    return parts


def from_openai(resp: dict, *, group: str) -> dict:
    candidates = []
    for choice in resp.get("choices") or []:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": _parts(choice.get("message") or {})},
                                "finishReason": _FINISH.get(choice.get("finish_reason") or "stop", "STOP"),
                                "index": choice.get("index", 0)}
        candidates.append(cand)
    return {"candidates": candidates, "usageMetadata": usage_metadata(resp.get("usage")), "modelVersion": group,
            "responseId": str(resp.get("id") or uuid.uuid4().hex)}


class GeminiStreamFromOpenAI:
    """OpenAI chunks -> GenerateContentResponse stream events (one per chunk with content; the
    last carries finishReason and usageMetadata)."""

    def __init__(self, *, group: str) -> None:
        self.group = group
        self.finish_reason: str | None = None
        self.usage: dict | None = None
        self.calls: dict[int, dict] = {}
        self.response_id = uuid.uuid4().hex
        self.created = int(time.time())

    def _event(self, parts: list[dict], finish: str | None = None) -> dict:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        return {"candidates": [cand], "modelVersion": self.group, "responseId": self.response_id}

    def feed(self, chunk: dict) -> list[dict]:
        if chunk.get("usage") is not None and not chunk.get("choices"):
            self.usage = chunk["usage"]
            return []
        out: list[dict] = []
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            parts: list[dict] = []
            if delta.get("reasoning_content"):
                parts.append({"text": delta["reasoning_content"], "thought": True})
            if delta.get("content"):
                parts.append({"text": delta["content"]})
            for call in delta.get("tool_calls") or []:  # collected whole: Gemini streams complete calls
                slot = self.calls.setdefault(call.get("index", 0), {"id": None, "name": "", "arguments": ""})
                fn = call.get("function") or {}
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] += fn.get("name") or ""
                slot["arguments"] += fn.get("arguments") or ""
            if parts:
                out.append(self._event(parts))
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> list[dict]:
        parts = []
        for _, call in sorted(self.calls.items()):
            try:
                args = json.loads(call["arguments"] or "{}")
            except ValueError:
                args = {"_raw_arguments": call["arguments"]}
            parts.append({"functionCall": {"id": call["id"], "name": call["name"], "args": args}})
        event = self._event(parts, _FINISH.get(self.finish_reason or "stop", "STOP"))
        event["usageMetadata"] = usage_metadata(self.usage)
        return [event]
