"""Parsing untrusted JSON bodies with bounded work: never recursion, never a 500.

`parse(raw)` returns the decoded value or raises `GatewayError(INVALID_REQUEST)` naming what is
wrong. Guarantees (all enforced before or while the value is built, never by Python recursion):
- at most `max_values` JSON values (a cheap C-speed upper bound is checked before parsing, so a
  body of millions of tiny values is refused before it is materialised: parsing, which holds the
  GIL, stays under ~0.5 s even for the most value-dense body allowed);
- nesting at most `max_depth` levels (orjson's iterative parser stops at 1024 levels while parsing;
  our stricter limit is checked with an explicit stack);
- every string is valid Unicode (orjson refuses unpaired UTF-16 surrogates and invalid UTF-8); for
  small bodies the error names the JSON path of the offending string, e.g. `messages[0].content`.
Key order is kept exactly as the client sent it (dicts preserve insertion order).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from gemgate.errors import invalid

MAX_DEPTH = 64
MAX_VALUES = 1_000_000
_PATH_SCAN_LIMIT = 1 << 20  # bodies up to 1 MiB get the exact path of a bad string
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def _value_bound(raw: bytes) -> int:
    """An upper bound of the number of values, at C speed: each value after the first follows one of
    `,` `:` `[`. Separators inside strings count too (so the bound is loose for prose); at 1,000,000
    that is ~15 MB of punctuation-dense text, beyond any model's context window, while base64 media
    contains none of these characters."""
    return raw.count(b",") + raw.count(b":") + raw.count(b"[") + 1


def path_str(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _depth_ok(raw: bytes, limit: int) -> bool:
    depth = 0
    for m in _TOKEN.finditer(raw):
        c = m.group()[:1]
        if c in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return False
        elif c in (b"]", b"}"):
            depth -= 1
    return True


def _bad_string_path(value: Any) -> tuple | None:
    stack: list[tuple[Any, tuple]] = [(value, ())]
    while stack:
        v, path = stack.pop()
        if isinstance(v, str):
            if not _valid(v):
                return path
        elif isinstance(v, dict):
            for k, x in v.items():
                if not _valid(k):
                    return path + (k.encode("utf-8", "backslashreplace").decode(),)
                stack.append((x, path + (k,)))
        elif isinstance(v, list):
            stack.extend((x, path + (i,)) for i, x in enumerate(v))
    return None


def _valid(s: str) -> bool:
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unicode_error(raw: bytes, exc: orjson.JSONDecodeError) -> None:
    """If the body failed only because of an unpaired surrogate escape, name where it is."""
    if len(raw) > _PATH_SCAN_LIMIT or not _SURROGATE_ESCAPE.search(raw) or not _depth_ok(raw, MAX_DEPTH):
        return
    try:
        value = json.loads(raw)  # depth already known to be small: bounded recursion
    except (ValueError, RecursionError):
        return
    path = _bad_string_path(value)
    if path is not None:
        where = path_str(path) or "body"
        raise invalid(f"{where}: string is not valid Unicode (unpaired UTF-16 surrogate)", where) from None


def check_depth(value: Any, max_depth: int, base: tuple = ()) -> None:
    """Iteratively check nesting (no recursion); raise a 400 naming the first too-deep path."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:  # breadth-first, one list of containers per level: no per-node bookkeeping
        depth += 1
        if depth > max_depth:
            raise _too_deep(base + _path_to(value, level[0]), max_depth)
        nxt = []
        for v in level:
            for x in (v.values() if isinstance(v, dict) else v):
                if isinstance(x, (dict, list)):
                    nxt.append(x)
        level = nxt


def _path_to(root: Any, target: Any) -> tuple:
    stack: list[tuple[Any, tuple]] = [(root, ())]
    while stack:
        v, path = stack.pop()
        if v is target:
            return path
        items = v.items() if isinstance(v, dict) else enumerate(v)
        stack.extend((x, path + (k,)) for k, x in items if isinstance(x, (dict, list)))
    return ()


def _too_deep(path: tuple, limit: int):
    where = path_str(path) or "body"
    return invalid(f"{where}: JSON nested deeper than {limit} levels", where, code="nesting_too_deep")


def parse(raw: bytes, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES) -> Any:
    if not raw.strip():
        raise invalid("request body is empty; send a JSON object")
    if _value_bound(raw) > max_values:
        raise invalid(f"request body has more than {max_values} JSON values", code="too_many_values")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        _unicode_error(raw, exc)
        raise invalid(f"request body is not valid JSON (or nested deeper than {max_depth} levels): {exc}") from None
    check_depth(value, max_depth)
    return value


def dumps(value: Any) -> str:
    """Compact JSON text, keys in their original order."""
    return orjson.dumps(value).decode()
