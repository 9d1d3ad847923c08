"""OpenAI messages -> Gemini contents + systemInstruction."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from gemgate.errors import invalid

from .tool_ids import split_call_id

_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)(;[^,]*)?;base64,(.*)$", re.S)


def _inline_from_data_uri(uri: str, where: str) -> dict:
    m = _DATA_URI.match(uri)
    if not m:
        raise invalid("expected a base64 data: URI", where)
    try:
        base64.b64decode(m.group(3), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("invalid base64 data", where) from None
    return {"inlineData": {"mimeType": m.group(1), "data": m.group(3)}}


def _media_part(url: str, where: str, default_mime: str = "image/jpeg") -> dict:
    if url.startswith("data:"):
        return _inline_from_data_uri(url, where)
    if url.startswith("gs://"):
        return {"fileData": {"mimeType": default_mime, "fileUri": url}}
    raise invalid("remote URL was not fetched; only data: and gs:// URLs are accepted here", where)


def _content_part(part: dict, where: str) -> dict:
    kind = part.get("type")
    if kind == "text":
        if not part.get("text"):
            raise invalid("empty text part", where)
        return {"text": part["text"]}
    if kind == "image_url":
        iu = part.get("image_url")
        url = iu.get("url") if isinstance(iu, dict) else iu
        return _media_part(str(url or ""), where)
    if kind == "input_audio":
        a = part.get("input_audio") or {}
        try:
            base64.b64decode(a.get("data", ""), validate=True)
        except (binascii.Error, ValueError):
            raise invalid("invalid base64 audio", where) from None
        return {"inlineData": {"mimeType": f"audio/{a.get('format', 'wav')}", "data": a.get("data", "")}}
    if kind == "file":
        f = part.get("file") or {}
        if f.get("file_data"):
            return _media_part(f["file_data"], where)
        if f.get("file_id"):
            return _media_part(f["file_id"], where, f.get("format") or "application/pdf")
        raise invalid("file part needs file_data or file_id", where)
    raise invalid(f"content part type {kind!r} is not supported", where)


def _parts(content: Any, where: str) -> list[dict]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [_content_part(p, f"{where}[{i}]") for i, p in enumerate(content)]


def _system_text(content: Any, where: str) -> str:
    return "".join(p.get("text", "") for p in _parts(content, where))


def _assistant_parts(msg: dict, i: int, vertex: bool, names: dict[str, str]) -> list[dict]:
    parts = _parts(msg.get("content"), f"messages[{i}].content")
    for j, call in enumerate(msg.get("tool_calls") or []):
        fn = call.get("function") or {}
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            raise invalid("tool call arguments are not valid JSON", f"messages[{i}].tool_calls[{j}].function.arguments") from None
        base_id, sig = split_call_id(call.get("id", ""))
        names[call.get("id", "")] = fn.get("name", "")
        fc: dict[str, Any] = {"name": fn.get("name", ""), "args": args if isinstance(args, dict) else {"value": args}}
        if not vertex and base_id:
            fc["id"] = base_id
        part: dict[str, Any] = {"functionCall": fc}
        if sig:
            part["thoughtSignature"] = sig
        parts.append(part)
    return parts


def _tool_response_part(msg: dict, i: int, vertex: bool, names: dict[str, str]) -> dict:
    call_id = msg.get("tool_call_id") or ""
    if call_id not in names:
        raise invalid(f"tool_call_id {call_id!r} does not match any earlier assistant tool call", f"messages[{i}].tool_call_id")
    content = msg.get("content")
    text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    fr: dict[str, Any] = {"name": names[call_id], "response": parsed if isinstance(parsed, dict) else {"result": text}}
    if not vertex:
        fr["id"] = split_call_id(call_id)[0]
    return {"functionResponse": fr}


def to_contents(messages: list[dict], *, vertex: bool) -> tuple[list[dict], dict | None]:
    system: list[str] = []
    contents: list[dict] = []
    names: dict[str, str] = {}
    last_is_result = False  # does contents[-1] hold function responses (tracked: O(1) per message)
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role in ("system", "developer"):
            system.append(_system_text(msg.get("content"), f"messages[{i}].content"))
            continue
        if role == "user":
            g_role, parts = "user", _parts(msg.get("content"), f"messages[{i}].content")
        elif role == "assistant":
            g_role, parts = "model", _assistant_parts(msg, i, vertex, names)
        elif role in ("tool", "function"):
            g_role, parts = "user", [_tool_response_part(msg, i, vertex, names)]
        else:
            raise invalid(f"message role {role!r} is not supported", f"messages[{i}].role")
        if not parts:
            raise invalid(f"messages[{i}] has empty content", f"messages[{i}].content")
        last_is_result = _append(contents, g_role, parts, last_is_result)
    if not contents:
        contents.append({"role": "user", "parts": [{"text": " "}]})
    texts = [t for t in system if t]
    return contents, ({"parts": [{"text": t} for t in texts]} if texts else None)


def _append(contents: list[dict], role: str, parts: list[dict], last_is_result: bool) -> bool:
    """Merge adjacent same-role turns, but never mix function responses with other user parts
    (the responses of one step must form their own content). Cost: O(len(parts)), never the size of
    the merged turn (20,000 same-role messages stay linear). Returns whether the last turn holds
    function responses."""
    new_is_result = any("functionResponse" in p for p in parts)
    if contents and contents[-1]["role"] == role and last_is_result == new_is_result:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})
    return new_is_result
