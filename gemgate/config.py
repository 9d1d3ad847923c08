"""LiteLLM-compatible config.yaml, validated into one typed object at startup.

Sections: model_list, litellm_settings, router_settings, general_settings, environment_variables.
String values of the form `os.environ/VAR` are replaced by the environment variable (missing ->
startup error naming the field). Unknown fields are startup errors naming the field, so a typo never
silently changes behaviour.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "os.environ/"
ALL_MODELS = "all-proxy-models"  # a virtual key's `models` entry that allows every group (LiteLLM's name)


class ConfigError(Exception):
    """Invalid configuration; the message names the offending field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LiteLLMParams(_Strict):
    model: str
    api_key: str | None = Field(default=None, repr=False)
    api_base: str | None = None
    # Vertex AI
    vertex_project: str | None = Field(default=None, alias="vertex_ai_project")
    vertex_location: str | None = Field(default=None, alias="vertex_ai_location")
    vertex_credentials: str | dict[str, Any] | None = Field(default=None, repr=False)
    # routing and limits
    rpm: int | None = Field(default=None, ge=0)
    tpm: int | None = Field(default=None, ge=0)
    weight: float | None = Field(default=None, ge=0)
    order: int | None = Field(default=None, ge=0)
    timeout: float | None = Field(default=None, gt=0)
    stream_timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    # translation
    safety_settings: list[dict[str, str]] | None = None
    drop_params: bool | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    # pricing overrides (USD per token)
    input_cost_per_token: float | None = Field(default=None, ge=0)
    output_cost_per_token: float | None = Field(default=None, ge=0)
    # testing switches (see docs/testing-switches.md)
    mock_response: str | None = None
    mock_testing_fallbacks: bool | None = None
    mock_testing_rate_limit_error: bool | None = None
    mock_testing_context_fallbacks: bool | None = None
    mock_testing_content_policy_fallbacks: bool | None = None

    @cached_property
    def as_dict(self) -> dict[str, Any]:
        """The params as a plain dict for the pure translators (computed once per deployment)."""
        return self.model_dump()

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0] if "/" in self.model else ""

    @property
    def upstream_model(self) -> str:
        return self.model.split("/", 1)[1] if "/" in self.model else self.model

    @field_validator("model")
    @classmethod
    def _known_provider(cls, v: str) -> str:
        prefix = v.split("/", 1)[0] if "/" in v else ""
        if prefix not in ("gemini", "vertex_ai"):
            raise ValueError(
                f"unsupported provider in {v!r}: use gemini/<model> or vertex_ai/<model>"
            )
        if not v.split("/", 1)[1]:
            raise ValueError(f"model name missing after the provider in {v!r}")
        return v


class ModelInfo(_Strict):
    id: str | None = None
    mode: Literal["chat", "embedding"] | None = None
    base_model: str | None = None
    description: str | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None


class Deployment(_Strict):
    model_name: str = Field(min_length=1)
    litellm_params: LiteLLMParams
    model_info: ModelInfo = Field(default_factory=ModelInfo)

    @field_validator("model_info", mode="before")
    @classmethod
    def _empty_info(cls, v: Any) -> Any:
        return {} if v is None else v


FallbackList = list[dict[str, list[str]]]


class LiteLLMSettings(_Strict):
    drop_params: bool = False
    num_retries: int | None = Field(default=None, ge=0)
    request_timeout: float | None = Field(default=None, gt=0)
    fallbacks: FallbackList = Field(default_factory=list)
    context_window_fallbacks: FallbackList = Field(default_factory=list)
    content_policy_fallbacks: FallbackList = Field(default_factory=list)
    default_fallbacks: list[str] = Field(default_factory=list)
    success_callback: list[str] = Field(default_factory=list)
    failure_callback: list[str] = Field(default_factory=list)
    callbacks: list[str] = Field(default_factory=list)
    set_verbose: bool = False
    json_logs: bool = False


class RouterSettings(_Strict):
    routing_strategy: Literal[
        "simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing", "usage-based-routing-v2"
    ] = "simple-shuffle"
    num_retries: int | None = Field(default=None, ge=0)
    timeout: float | None = Field(default=None, gt=0)
    stream_timeout: float | None = Field(default=None, gt=0)
    allowed_fails: int = Field(default=3, ge=0)
    cooldown_time: float = Field(default=5.0, ge=0)
    retry_after: float = Field(default=0.0, ge=0)
    fallbacks: FallbackList | None = None
    context_window_fallbacks: FallbackList | None = None
    content_policy_fallbacks: FallbackList | None = None
    default_fallbacks: list[str] | None = None
    redis_url: str | None = None
    redis_host: str | None = None
    redis_port: int | None = None
    redis_password: str | None = Field(default=None, repr=False)
    enable_pre_call_checks: bool = False


class GeneralSettings(_Strict):
    master_key: str | None = Field(default=None, repr=False)
    redis_url: str | None = None
    # PostgreSQL system of record for keys, teams, users and the spend log (else DATABASE_URL)
    database_url: str | None = Field(default=None, repr=False)
    database_connection_pool_limit: int = Field(default=10, ge=1, le=1000)
    # internal wiring for the single-machine CLI / compose (overridable by CLI flags)
    router_address: str | None = None
    budget_address: str | None = None
    # fail the budget path closed after this long without Redis (seconds)
    budget_deadline: float = Field(default=2.0, gt=0)
    # remote media (image_url / file https URLs) is fetched and inlined behind an SSRF guard that
    # refuses non-public addresses; list CIDRs here to allow e.g. an internal image server
    media_allowed_networks: list[str] = Field(default_factory=list)
    media_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    media_fetch_timeout: float = Field(default=10.0, gt=0)
    # security switches (ops): see README "Virtual keys" and "Internal gRPC API"
    dangerously_permit_weak_or_unset_master_key: bool = False  # LiteLLM's name
    internal_secret: str | None = Field(default=None, repr=False)  # else env GEMGATE_INTERNAL_SECRET
    metrics_token: str | None = Field(default=None, repr=False)  # else env GEMGATE_METRICS_TOKEN

    @field_validator("media_allowed_networks")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        import ipaddress

        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a network (CIDR) like 10.0.0.0/8") from None
        return v

    @field_validator("database_url")
    @classmethod
    def _db_scheme(cls, v: str | None) -> str | None:
        if v and v.split("://", 1)[0].lower() not in ("postgres", "postgresql"):
            raise ValueError("database_url must be a PostgreSQL URL (postgresql://user:password@host:5432/db)")
        return v or None

    @field_validator("master_key")
    @classmethod
    def _key_shape(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("sk-"):
            raise ValueError("master_key must start with 'sk-' (as in LiteLLM)")
        return v


class GatewayConfig(_Strict):
    model_list: list[Deployment] = Field(default_factory=list)
    litellm_settings: LiteLLMSettings = Field(default_factory=LiteLLMSettings)
    router_settings: RouterSettings = Field(default_factory=RouterSettings)
    general_settings: GeneralSettings = Field(default_factory=GeneralSettings)
    environment_variables: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_ids(self) -> "GatewayConfig":
        seen: set[str] = set()
        for i, dep in enumerate(self.model_list):
            if dep.model_info.id is None:
                dep.model_info.id = f"{dep.model_name}-{i}"
            if dep.model_info.id in seen:
                raise ValueError(f"model_list[{i}].model_info.id {dep.model_info.id!r} is not unique")
            seen.add(dep.model_info.id)
        return self

    # ---- derived views ----
    def groups(self) -> dict[str, list[Deployment]]:
        out: dict[str, list[Deployment]] = {}
        for dep in self.model_list:
            out.setdefault(dep.model_name, []).append(dep)
        return out

    def redis_url(self, environ: dict[str, str] | None = None) -> str:
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

    def database_url(self, environ: dict[str, str] | None = None) -> str | None:
        """general_settings.database_url, else DATABASE_URL (as LiteLLM reads it), else None."""
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


def _resolve_env(value: Any, where: str, environ: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        var = value[len(ENV_PREFIX):]
        if var not in environ:
            raise ConfigError(f"{where}: environment variable {var} is not set (referenced as {value!r})")
        return environ[var]
    if isinstance(value, dict):
        return {k: _resolve_env(v, f"{where}.{k}" if where else str(k), environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, f"{where}[{i}]", environ) for i, v in enumerate(value)]
    return value


def _format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ""
        for part in err["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not supported by gemgate; check the spelling)"
        lines.append(f"{loc or '<root>'}: {msg}")
    return "invalid config:\n  " + "\n  ".join(lines)


def parse_config(data: Any, environ: dict[str, str] | None = None) -> GatewayConfig:
    env = dict(os.environ if environ is None else environ)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("invalid config: the top level must be a mapping")
    # a section left with only comments in YAML (`general_settings:`) is null: treat it as empty
    data = {k: v for k, v in data.items() if v is not None}
    # environment_variables (LiteLLM) are applied before os.environ/ references resolve
    extra_env = data.get("environment_variables") or {}
    if not isinstance(extra_env, dict):
        raise ConfigError("invalid config:\n  environment_variables: must be a mapping")
    for k, v in extra_env.items():
        env.setdefault(str(k), str(v))
    resolved = _resolve_env(data, "", env)
    try:
        return GatewayConfig.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc)) from None


def load_config(path: str | Path, environ: dict[str, str] | None = None) -> GatewayConfig:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {exc}") from None
    return parse_config(data, environ)
