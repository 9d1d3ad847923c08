"""litellm_settings.cache_params: the response cache's typed settings (LiteLLM's names).

gemgate implements LiteLLM's exact-match response cache on Redis (`type: redis`, the default) or in
the router process's memory (`type: local`). The other LiteLLM cache types (semantic caches, S3,
GCS, disk) are refused at startup: silently running without them would change what is cached and
who pays. Settings LiteLLM documents that gemgate recognises without implementing are listed in
gemgate/litellm_known.py under "cache_params".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gemgate.config_views import CALL_TYPES, UNCACHED_CALL_TYPES, CacheParamsViews

# LiteLLM's cache types gemgate does not run (startup refuses them)
REFUSED_TYPES = ("redis-semantic", "valkey-semantic", "qdrant-semantic", "s3", "gcs", "disk", "azure-blob",
                 "redis-cluster")
MODES = ("default_on", "default_off")


class CacheParams(CacheParamsViews, BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str = "redis"
    host: str | None = None
    port: int | None = Field(default=None, gt=0, lt=65536)
    password: str | None = Field(default=None, repr=False)
    username: str | None = None
    ssl: bool = False
    namespace: str | None = Field(default=None, min_length=1, max_length=128)
    ttl: float | None = Field(default=None, gt=0)
    default_in_redis_ttl: float | None = Field(default=None, gt=0)
    default_in_memory_ttl: float | None = Field(default=None, gt=0)
    mode: Literal["default_on", "default_off"] = "default_on"
    supported_call_types: list[str] | None = None
    socket_timeout: float | None = Field(default=None, gt=0, le=60)
    max_connections: int | None = Field(default=None, gt=0, le=10_000)

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v in REFUSED_TYPES:
            raise ValueError(f"LiteLLM cache type {v!r} is not supported by gemgate: use type: redis (an exact-match "
                             "response cache on Redis) or type: local (per router process), or turn the cache off")
        if v not in ("redis", "local"):
            raise ValueError(f"unknown cache type {v!r}: gemgate supports 'redis' and 'local'")
        return v

    @field_validator("supported_call_types")
    @classmethod
    def _call_types(cls, v: list[str] | None) -> list[str] | None:
        for name in v or ():
            if name not in CALL_TYPES and name not in UNCACHED_CALL_TYPES:
                raise ValueError(f"unknown call type {name!r}; LiteLLM's names gemgate caches: "
                                 + ", ".join(CALL_TYPES))
        return v


def parse_cache_params(v: Any) -> Any:
    return {} if v is None else v
