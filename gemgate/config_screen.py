"""Screen a raw config against LiteLLM's setting names before validation.

- a gemgate field: kept (validated by gemgate.config);
- a LiteLLM setting gemgate recognises but does not implement (gemgate.litellm_known): REFUSE ->
  startup error "LiteLLM setting X is not supported by gemgate: <advice>"; WARN -> dropped with a
  one-time warning;
- anything else: left for validation, which reports it as a typo with a did-you-mean.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel

from gemgate import litellm_known as known


def field_names(model: type[BaseModel]) -> list[str]:
    names: list[str] = []
    for name, f in model.model_fields.items():
        names.append(name)
        alias = f.validation_alias
        if isinstance(alias, str):
            names.append(alias)
        elif alias is not None and hasattr(alias, "choices"):
            names.extend(c for c in alias.choices if isinstance(c, str))
        if isinstance(f.alias, str):
            names.append(f.alias)
    return list(dict.fromkeys(names))


def _screen_section(section: str, where: str, data: Any, model: type[BaseModel], errors: list[str],
                    warnings: list[str]) -> Any:
    if not isinstance(data, dict):
        return data
    fields = set(field_names(model))
    out = {}
    for key, value in data.items():
        name = str(key)
        hit = None if name in fields else known.lookup(section, name)
        if hit is None:
            out[key] = value
            continue
        action, advice = hit
        path = f"{where}.{name}" if where else name
        if action == known.REFUSE:
            errors.append(f"{path}: LiteLLM setting {name!r} is not supported by gemgate: {advice}")
        else:
            warnings.append(f"{path}: LiteLLM setting {name!r} is ignored by gemgate: {advice}")
    return out


def screen(data: dict, models: dict[str, type[BaseModel]]) -> tuple[dict, list[str], list[str]]:
    """(screened data, refusals, warnings). `models`: section name -> pydantic model."""
    errors: list[str] = []
    warnings: list[str] = []
    _coordination_redis(data, errors)
    data = _screen_section("top", "", data, models["top"], errors, warnings)
    for section in ("litellm_settings", "router_settings", "general_settings"):
        if section in data:
            data[section] = _screen_section(section, section, data[section], models[section], errors, warnings)
    ls = data.get("litellm_settings")
    if isinstance(ls, dict) and isinstance(ls.get("cache_params"), dict) and "cache_params" in models:
        ls["cache_params"] = _screen_section("cache_params", "litellm_settings.cache_params", ls["cache_params"],
                                             models["cache_params"], errors, warnings)
    if isinstance(data.get("model_list"), list):
        deps = []
        for i, dep in enumerate(data["model_list"]):
            if isinstance(dep, dict):
                dep = dict(dep)
                if "litellm_params" in dep:
                    dep["litellm_params"] = _screen_section("litellm_params", f"model_list[{i}].litellm_params",
                                                            dep["litellm_params"], models["litellm_params"],
                                                            errors, warnings)
                if isinstance(dep.get("model_info"), dict):
                    info = {k: v for k, v in dep["model_info"].items() if not str(k).startswith("supports_")}
                    flags = {k: v for k, v in dep["model_info"].items() if str(k).startswith("supports_")}
                    info = _screen_section("model_info", f"model_list[{i}].model_info", info,
                                           models["model_info"], errors, warnings)
                    dep["model_info"] = {**info, **flags}
            deps.append(dep)
        data["model_list"] = deps
    return data, errors, warnings


_COORDINATION = {"host": "redis_host", "port": "redis_port", "password": "redis_password", "url": "redis_url"}


def _coordination_redis(data: dict, errors: list[str]) -> None:
    """LiteLLM's general_settings.coordination_redis (the Redis its workers share limits and state
    through) is gemgate's router_settings.redis_host / redis_port / redis_password / redis_url, which
    also serve budgets unless general_settings.redis_url is set."""
    gs = data.get("general_settings")
    if not isinstance(gs, dict) or gs.get("coordination_redis") is None:
        return
    cr = gs.pop("coordination_redis")
    where = "general_settings.coordination_redis"
    rs = data.setdefault("router_settings", {})
    if not isinstance(cr, dict) or not isinstance(rs, dict):
        errors.append(f"{where}: give host, port and password (or url) of the Redis")
        return
    for name in cr:
        if name not in _COORDINATION:
            errors.append(f"{where}.{name}: LiteLLM setting {name!r} is not supported by gemgate: gemgate uses one "
                          "Redis, given by host, port and password (or url)")
    if any(rs.get(v) is not None for v in _COORDINATION.values()):
        errors.append(f"{where}: router_settings also names a Redis; give it once")
        return
    rs.update({_COORDINATION[k]: v for k, v in cr.items() if k in _COORDINATION})


_SECTION_OF_LOC = {
    "litellm_settings": "litellm_settings", "router_settings": "router_settings",
    "general_settings": "general_settings", "litellm_params": "litellm_params", "model_info": "model_info",
    "cache_params": "cache_params",
}


def suggestion(loc: tuple, models: dict[str, type[BaseModel]]) -> str:
    """' (did you mean 'x'?)' for an unknown field at `loc`, or ''."""
    if not loc:
        return ""
    name = str(loc[-1])
    section = "top"
    for part in reversed(loc[:-1]):
        if isinstance(part, str) and part in _SECTION_OF_LOC:
            section = _SECTION_OF_LOC[part]
            break
    if section == "top" and len(loc) > 1:
        return ""
    model = models.get(section)
    candidates = (field_names(model) if model else []) + list(known.KNOWN.get(section, {}))
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""
