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

# LiteLLM's cache types gemgate does not run (startup refuses them)
REFUSED_TYPES = ("redis-semantic", "valkey-semantic", "qdrant-semantic", "s3", "gcs", "disk", "azure-blob",
                 "redis-cluster")
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
MODES = ("default_on", "default_off")


class CacheParams(BaseModel):
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


def parse_cache_params(v: Any) -> Any:
    return {} if v is None else v
