"""Wildcard deployments (LiteLLM): `model_name: gemini/*` with `model: gemini/*` serves any
`gemini/<name>` a client asks for by calling `gemini/<name>` upstream; `model_name: "*"` with
`model: gemini/*` serves any name. The most specific pattern (longest literal part) wins; exact
model groups always win over patterns. Concrete deployments are made on demand and cached (bounded).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gemgate.config import Deployment

# what a wildcard may stand for: an upstream model id (it goes into the upstream URL path)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")
_CACHE_MAX = 512


def is_pattern(model_name: str) -> bool:
    return "*" in model_name


def match(pattern: str, name: str) -> str | None:
    """The part of `name` the single `*` of `pattern` stands for, or None."""
    if pattern.count("*") != 1:
        return None
    head, tail = pattern.split("*")
    if not name.startswith(head) or not name.endswith(tail) or len(name) < len(head) + len(tail):
        return None
    part = name[len(head):len(name) - len(tail)] if tail else name[len(head):]
    return part if _NAME.match(part) else None


def _concrete(dep: "Deployment", name: str, part: str) -> "Deployment":
    lp = dep.litellm_params
    model = lp.model.replace("*", part) if "*" in lp.model else lp.model
    params = lp.model_copy(update={"model": model})
    params.__dict__.pop("as_dict", None)  # cached_property of the pattern's params
    info = dep.model_info.model_copy(update={"id": f"{dep.model_info.id}:{part}"})
    return dep.model_copy(update={"model_name": name, "litellm_params": params, "model_info": info})


def resolve(model_list: list["Deployment"], name: str, _cache: OrderedDict) -> list["Deployment"] | None:
    """The concrete deployments for `name` (None: no pattern matches). `_cache` is owned by the
    caller (one per config)."""
    key = name
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    best: tuple[int, list] | None = None
    by_pattern: dict[str, list[tuple["Deployment", str]]] = {}
    for dep in model_list:
        if not is_pattern(dep.model_name):
            continue
        part = match(dep.model_name, name)
        if part is not None:
            by_pattern.setdefault(dep.model_name, []).append((dep, part))
    for pattern, hits in by_pattern.items():
        literal = len(pattern) - 1
        if best is None or literal > best[0]:
            best = (literal, [_concrete(d, name, p) for d, p in hits])
    out = best[1] if best else None
    _cache[key] = out
    if len(_cache) > _CACHE_MAX:
        _cache.popitem(last=False)
    return out
