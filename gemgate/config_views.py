"""The config's behaviour without pydantic: what the services ask a loaded config, and a plain copy
of a checked config for router_service.

`gemgate.config` validates config.yaml into pydantic models (the only place that needs pydantic).
Their derived views (a deployment's provider and request defaults, the model groups, aliases,
wildcard deployments, the Redis URL, the cache's RPCs ...) are written here once, as mixins the
pydantic models inherit, so the same code also serves `PlainConfig`: the config the `gemgate` CLI
checked, handed to router_service as JSON (`export` / `take`, environment variable
GEMGATE_ROUTER_CONFIG), rebuilt as plain objects with the same attributes. The router then never
imports pydantic, yaml or the config models (about 10 MiB of each router worker). A config too large
for the environment is not handed over; the router then loads the file itself, as it does when run
on its own.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any

ENV = "GEMGATE_ROUTER_CONFIG"
MAX_HANDOVER_BYTES = 100_000  # one environment variable holds at most 128 KiB on Linux

# ---- response cache (litellm_settings.cache_params) ----
# LiteLLM's call type names -> gemgate's cached RPC ("chat" covers /chat/completions and /completions)
CALL_TYPES = {
    "completion": "chat", "acompletion": "chat", "text_completion": "chat", "atext_completion": "chat",
    "embedding": "embeddings", "aembedding": "embeddings",
}
# LiteLLM call types gemgate knows but never caches (startup warns that they have no effect)
UNCACHED_CALL_TYPES = ("transcription", "atranscription", "rerank", "arerank", "responses", "aresponses",
                       "image_generation", "aimage_generation", "speech", "aspeech", "moderation", "amoderation",
                       "anthropic_messages", "generate_content", "agenerate_content")
DEFAULT_TTL = 3600.0  # seconds; LiteLLM keeps entries forever without a ttl (see README "Response cache")


class CacheParamsViews:
    def cached_rpcs(self) -> set[str]:
        """gemgate's call types ("chat", "embeddings") the cache is on for."""
        if self.supported_call_types is None:
            return {"chat", "embeddings"}
        return {CALL_TYPES[n] for n in self.supported_call_types if n in CALL_TYPES}

    def default_ttl(self) -> float:
        per_type = self.default_in_memory_ttl if self.type == "local" else self.default_in_redis_ttl
        return self.ttl or per_type or DEFAULT_TTL

    def warnings(self) -> list[str]:
        out = []
        ignored = [n for n in self.supported_call_types or () if n in UNCACHED_CALL_TYPES]
        if ignored:
            out.append(f"litellm_settings.cache_params.supported_call_types: {', '.join(ignored)} are not cached by "
                       "gemgate (only chat/completions and embeddings, unary)")
        return out


# ---- deployments ----
# litellm_params a deployment may set as request defaults (a request's own value wins)
REQUEST_DEFAULTS = (
    "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "stop", "seed",
    "presence_penalty", "frequency_penalty", "reasoning_effort", "thinking", "response_format",
    "parallel_tool_calls",
)


class LiteLLMParamsViews:
    def request_defaults(self) -> dict[str, Any]:
        """The request params this deployment sets by default (non-empty ones only)."""
        out = {}
        for name in REQUEST_DEFAULTS:
            value = getattr(self, name)
            if value is not None and value != {}:
                out[name] = value
        return out

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0] if "/" in self.model else ""

    @property
    def upstream_model(self) -> str:
        return self.model.split("/", 1)[1] if "/" in self.model else self.model


class GatewayConfigViews:
    @property
    def warnings(self) -> list[str]:
        return self._warnings

    def groups(self) -> dict[str, list]:
        out: dict[str, list] = {}
        for dep in self.model_list:
            out.setdefault(dep.model_name, []).append(dep)
        return out

    def alias_target(self, name: str) -> str | None:
        """router_settings.model_group_alias: the model group an alias stands for."""
        target = self.router_settings.model_group_alias.get(name)
        if isinstance(target, dict):
            return target.get("model")
        return target

    def hidden_aliases(self) -> set[str]:
        return {a for a, t in self.router_settings.model_group_alias.items() if isinstance(t, dict) and t.get("hidden")}

    def deployments_for(self, name: str) -> list | None:
        """The deployments serving `name`: its group, an alias's group, or wildcard deployments."""
        from gemgate.wildcards import resolve

        groups = self.groups()
        if name in groups:
            return groups[name]
        target = self.alias_target(name)
        if target is not None:
            return groups.get(target)
        if self._wildcard_cache is None:
            from collections import OrderedDict

            self._wildcard_cache = OrderedDict()
        return resolve(self.model_list, name, self._wildcard_cache)

    def redis_url(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        gs, rs = self.general_settings, self.router_settings
        if gs.redis_url:
            return gs.redis_url
        if rs.redis_url:
            return rs.redis_url
        if rs.redis_host:
            auth = f":{rs.redis_password}@" if rs.redis_password else ""
            return f"redis://{auth}{rs.redis_host}:{rs.redis_port or 6379}/0"
        return env.get("REDIS_URL", "redis://127.0.0.1:6379/0")

    def database_url(self, environ: Mapping[str, str] | None = None) -> str | None:
        """general_settings.database_url, else DATABASE_URL (as LiteLLM reads it), else None."""
        from gemgate.config_names import ConfigError

        env = os.environ if environ is None else environ
        url = self.general_settings.database_url or env.get("DATABASE_URL") or None
        if url and url.split("://", 1)[0].lower() not in ("postgres", "postgresql"):
            raise ConfigError("DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host:5432/db)")
        return url

    def fallbacks(self, kind: str) -> Any:
        """router_settings wins over litellm_settings for each fallback kind."""
        value = getattr(self.router_settings, kind)
        return value if value is not None else getattr(self.litellm_settings, kind)

    def num_retries(self) -> int:
        rs, ls = self.router_settings.num_retries, self.litellm_settings.num_retries
        return rs if rs is not None else (ls if ls is not None else 2)


def print_warnings(config, who: str = "gemgate") -> None:
    """Print the config's startup warnings once per gateway: the CLI prints them and tells the
    services it started (GEMGATE_WARNED=1) not to repeat them."""
    import sys

    if os.environ.get("GEMGATE_WARNED") == "1":
        return
    for line in config.warnings:
        print(f"{who}: warning: {line}", file=sys.stderr, flush=True)


# ---- the plain copy ----
class _Plain:
    """Attributes from a dict; `model_copy(update=...)` as pydantic's (a shallow copy with changes)."""

    _nested: dict[str, Any] = {}

    def __init__(self, data: Mapping[str, Any]) -> None:
        for name, value in data.items():
            kind = self._nested.get(name)
            if kind is not None and value is not None:
                value = [kind(v) for v in value] if isinstance(value, list) else kind(value)
            self.__dict__[name] = value

    def model_copy(self, update: Mapping[str, Any] | None = None):
        out = copy.copy(self)
        out.__dict__.update(update or {})
        return out

    def __repr__(self) -> str:  # never secrets (api keys, master key)
        return f"{type(self).__name__}(...)"


class PlainCacheParams(CacheParamsViews, _Plain):
    pass


class PlainSection(_Plain):
    pass


class PlainLiteLLMParams(LiteLLMParamsViews, _Plain):
    @cached_property
    def as_dict(self) -> dict[str, Any]:
        """The params as a plain dict for the pure translators (computed once per deployment; a
        wildcard's copy drops it, gemgate/wildcards.py)."""
        return copy.deepcopy(self.__dict__)


class PlainDeployment(_Plain):
    _nested = {"litellm_params": PlainLiteLLMParams, "model_info": PlainSection}


class PlainLiteLLMSettings(_Plain):
    _nested = {"cache_params": PlainCacheParams}


class PlainConfig(GatewayConfigViews, _Plain):
    _nested = {"model_list": PlainDeployment, "litellm_settings": PlainLiteLLMSettings,
               "router_settings": PlainSection, "general_settings": PlainSection}

    def __init__(self, data: Mapping[str, Any], warnings: list[str] = ()) -> None:
        super().__init__(data)
        self._warnings = list(warnings)
        self._wildcard_cache = None


def export(config) -> str | None:
    """A checked GatewayConfig as JSON for router_service, or None when it is too large to hand over
    in the environment (the router then loads the file itself)."""
    text = json.dumps({"config": config.model_dump(mode="json"), "warnings": list(config.warnings)},
                      separators=(",", ":"))
    return text if len(text.encode()) <= MAX_HANDOVER_BYTES else None


def pop_handover(name: str, environ: dict[str, str] | None = None) -> Any:
    """The JSON a `gemgate` CLI handed a service in environment variable `name` (removed from the
    environment, so the service's own children never see it), or None when started without it."""
    env = os.environ if environ is None else environ
    raw = env.pop(name, None)
    return json.loads(raw) if raw else None


def take(environ: dict[str, str] | None = None) -> PlainConfig | None:
    """The handed-over config, or None when started without it."""
    data = pop_handover(ENV, environ)
    return PlainConfig(data["config"], data["warnings"]) if data is not None else None
