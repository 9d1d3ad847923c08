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
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from gemgate.cache_settings import CacheParams, parse_cache_params
from gemgate.config_names import ALL_MODELS, ConfigError  # noqa: F401  (re-exported; defined without pydantic)
from gemgate.config_views import GatewayConfigViews, LiteLLMParamsViews, print_warnings  # noqa: F401

ENV_PREFIX = "os.environ/"
METRICS_AUTH_IGNORED = ("litellm_settings.require_auth_for_metrics_endpoint: false is ignored by gemgate: GET /metrics "
                        "always needs the master key or a metrics token (general_settings.metrics_token or "
                        "GEMGATE_METRICS_TOKEN); give your scraper that token")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


PROVIDERS = ("gemini", "vertex_ai")
# headers a deployment's extra_headers may never set (credentials and framing stay gemgate's)
FORBIDDEN_EXTRA_HEADERS = {
    "authorization", "x-goog-api-key", "proxy-authorization", "cookie", "host", "content-length",
    "content-type", "transfer-encoding", "connection",
}


class LiteLLMParams(LiteLLMParamsViews, _Strict):
    model: str
    custom_llm_provider: Literal["gemini", "vertex_ai"] | None = None
    api_key: str | None = Field(default=None, repr=False)
    api_base: str | None = None
    # Vertex AI (every LiteLLM spelling)
    vertex_project: str | None = Field(default=None, validation_alias=AliasChoices("vertex_project", "vertex_ai_project"))
    vertex_location: str | None = Field(
        default=None, validation_alias=AliasChoices("vertex_location", "vertex_ai_location", "vertex_region"))
    vertex_credentials: str | dict[str, Any] | None = Field(
        default=None, repr=False, validation_alias=AliasChoices("vertex_credentials", "vertex_ai_credentials"))
    use_psc_endpoint_format: bool = False
    # routing and limits
    rpm: int | None = Field(default=None, ge=0)
    tpm: int | None = Field(default=None, ge=0)
    weight: float | None = Field(default=None, ge=0)
    order: int | None = Field(default=None, ge=0)
    timeout: float | None = Field(default=None, gt=0)
    stream_timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    num_retries: int | None = Field(default=None, ge=0)
    max_parallel_requests: int | None = Field(default=None, gt=0)
    tags: list[str] = Field(default_factory=list)
    # translation
    safety_settings: list[dict[str, str]] | None = None
    drop_params: bool | None = None
    # request defaults (REQUEST_DEFAULTS): used when the request does not set them
    max_tokens: int | None = Field(default=None, gt=0)
    max_completion_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    thinking: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    extra_headers: dict[str, str] = Field(default_factory=dict)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    # pricing overrides
    input_cost_per_token: float | None = Field(default=None, ge=0)
    output_cost_per_token: float | None = Field(default=None, ge=0)
    input_cost_per_character: float | None = Field(default=None, ge=0)
    output_cost_per_character: float | None = Field(default=None, ge=0)
    # testing switches (see docs/testing-switches.md)
    mock_response: str | None = None
    mock_testing_fallbacks: bool | None = None
    mock_testing_rate_limit_error: bool | None = None
    mock_testing_context_fallbacks: bool | None = None
    mock_testing_content_policy_fallbacks: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _custom_provider(cls, data: Any) -> Any:
        """LiteLLM's `custom_llm_provider: gemini` + `model: gemini-2.5-flash` == `model: gemini/gemini-2.5-flash`."""
        if isinstance(data, dict) and data.get("custom_llm_provider") and isinstance(data.get("model"), str):
            prov, model = data["custom_llm_provider"], data["model"]
            if prov in PROVIDERS and not model.startswith(prov + "/"):
                data = {**data, "model": f"{prov}/{model}"}
        return data

    @field_validator("extra_headers")
    @classmethod
    def _safe_headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if name.lower() in FORBIDDEN_EXTRA_HEADERS:
                raise ValueError(f"extra_headers may not set {name!r} (credentials and framing are gemgate's)")
        return v

    @model_validator(mode="after")
    def _psc_needs_base(self) -> "LiteLLMParams":
        if self.use_psc_endpoint_format and not self.api_base:
            raise ValueError("use_psc_endpoint_format needs api_base (your Private Service Connect endpoint)")
        return self

    @cached_property
    def as_dict(self) -> dict[str, Any]:
        """The params as a plain dict for the pure translators (computed once per deployment)."""
        return self.model_dump()

    @field_validator("model")
    @classmethod
    def _known_provider(cls, v: str) -> str:
        prefix = v.split("/", 1)[0] if "/" in v else ""
        if prefix not in PROVIDERS:
            raise ValueError(
                f"unsupported provider in {v!r}: use gemini/<model> or vertex_ai/<model>"
            )
        if not v.split("/", 1)[1]:
            raise ValueError(f"model name missing after the provider in {v!r}")
        return v


MODES = Literal["chat", "completion", "embedding", "responses", "image_generation", "audio_transcription",
                "audio_speech", "rerank", "moderation", "batch", "realtime", "video_generation", "ocr", "search"]


class ModelInfo(_Strict):
    id: str | None = None
    mode: MODES | None = None
    base_model: str | None = None
    description: str | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    input_cost_per_token: float | None = Field(default=None, ge=0)
    output_cost_per_token: float | None = Field(default=None, ge=0)
    input_cost_per_character: float | None = Field(default=None, ge=0)
    output_cost_per_character: float | None = Field(default=None, ge=0)
    cache_read_input_token_cost: float | None = Field(default=None, ge=0)
    output_cost_per_reasoning_token: float | None = Field(default=None, ge=0)
    input_cost_per_token_above_200k_tokens: float | None = Field(default=None, ge=0)
    output_cost_per_token_above_200k_tokens: float | None = Field(default=None, ge=0)
    access_groups: list[str] = Field(default_factory=list)
    health_check_timeout: float | None = Field(default=None, gt=0, le=600)  # GET /health, seconds
    # LiteLLM's capability flags (supports_vision, supports_function_calling, ...): reported by /model/info
    supports: dict[str, bool] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_supports(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(str(k).startswith("supports_") for k in data):
            data = dict(data)
            flags = dict(data.get("supports") or {})
            for k in [k for k in data if str(k).startswith("supports_")]:
                value = data.pop(k)
                if not isinstance(value, bool):
                    raise ValueError(f"{k} must be true or false")
                flags[k] = value
            data["supports"] = flags
        return data


class Deployment(_Strict):
    model_name: str = Field(min_length=1)
    litellm_params: LiteLLMParams
    model_info: ModelInfo = Field(default_factory=ModelInfo)

    @field_validator("model_info", mode="before")
    @classmethod
    def _empty_info(cls, v: Any) -> Any:
        return {} if v is None else v

    @model_validator(mode="before")
    @classmethod
    def _entry_level_limits(cls, data: Any) -> Any:
        """LiteLLM also reads `tpm` / `rpm` written next to litellm_params (litellm_params wins)."""
        if isinstance(data, dict) and ("tpm" in data or "rpm" in data) and isinstance(data.get("litellm_params"), dict):
            data = dict(data)
            lp = dict(data["litellm_params"])
            for k in ("tpm", "rpm"):
                if k in data:
                    v = data.pop(k)
                    lp.setdefault(k, v)
            data["litellm_params"] = lp
        return data


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
    # Vertex defaults for deployments that do not set their own
    vertex_project: str | None = None
    vertex_location: str | None = None
    # global proxy budget (USD) over budget_duration
    max_budget: float | None = Field(default=None, ge=0)
    budget_duration: str | None = None
    # usage records without messages/responses
    turn_off_message_logging: bool = False
    # hosts user-supplied media URLs may name (on top of the SSRF address check)
    user_url_allowed_hosts: list[str] = Field(default_factory=list)
    # LiteLLM's switch for /metrics auth: gemgate always requires it (false only warns, see README)
    require_auth_for_metrics_endpoint: bool = True
    # response cache (router_service/response_cache): exact-match, Redis or per-process memory
    cache: bool = False
    cache_params: CacheParams = Field(default_factory=CacheParams)

    @field_validator("cache_params", mode="before")
    @classmethod
    def _empty_cache_params(cls, v: Any) -> Any:
        return parse_cache_params(v)


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
    model_group_alias: dict[str, str | dict[str, Any]] = Field(default_factory=dict)
    disable_cooldowns: bool = False
    enable_tag_filtering: bool = False
    tag_filtering_match_any: bool = True
    retry_policy: dict[str, int] = Field(default_factory=dict)
    allowed_fails_policy: dict[str, int] = Field(default_factory=dict)

    @field_validator("retry_policy", "allowed_fails_policy")
    @classmethod
    def _policy_names(cls, v: dict[str, int], info) -> dict[str, int]:
        from gemgate.error_policies import check_policy

        return check_policy(info.field_name, v)


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
    # LiteLLM's name: the largest request body the facade reads (MB); larger ones are a 413
    max_request_size_mb: float = Field(default=64.0, gt=0, le=4096)
    # LiteLLM: the most in-flight requests per deployment
    max_parallel_requests: int | None = Field(default=None, gt=0)
    # LiteLLM: routes clients may call (management routes stay master-key only)
    allowed_routes: list[str] | None = None
    # forward allowlisted client headers (x-*, anthropic-beta; never credentials) upstream
    forward_client_headers_to_llm_api: bool = False
    # per-request mock_* switches from any key (else only without master_key or from the master key)
    dangerously_allow_mock_testing_request_params: bool = False
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


class GatewayConfig(GatewayConfigViews, _Strict):
    model_list: list[Deployment] = Field(default_factory=list)
    litellm_settings: LiteLLMSettings = Field(default_factory=LiteLLMSettings)
    router_settings: RouterSettings = Field(default_factory=RouterSettings)
    general_settings: GeneralSettings = Field(default_factory=GeneralSettings)
    environment_variables: dict[str, str] = Field(default_factory=dict)
    # one-time startup warnings (recognised-but-ignored LiteLLM settings, unpriced models)
    _warnings: list[str] = PrivateAttr(default_factory=list)
    _wildcard_cache: Any = PrivateAttr(default=None)

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _env_strings(cls, v: Any) -> Any:
        """LiteLLM exports every value as a string (REDIS_PORT: 6379 is fine)."""
        if isinstance(v, dict):
            return {str(k): ("" if val is None else str(val)) for k, val in v.items()}
        return v

    @model_validator(mode="after")
    def _vertex_defaults(self) -> "GatewayConfig":
        ls = self.litellm_settings
        for dep in self.model_list:
            lp = dep.litellm_params
            if lp.provider == "vertex_ai":
                if lp.vertex_project is None and ls.vertex_project:
                    lp.vertex_project = ls.vertex_project
                if lp.vertex_location is None and ls.vertex_location:
                    lp.vertex_location = ls.vertex_location
        return self

    @model_validator(mode="after")
    def _aliases_and_budget(self) -> "GatewayConfig":
        names = {d.model_name for d in self.model_list}
        for alias, target in self.router_settings.model_group_alias.items():
            group = target.get("model") if isinstance(target, dict) else target
            if not isinstance(group, str) or not group:
                raise ValueError(f"router_settings.model_group_alias.{alias}: give the target model group name")
            if group not in names:
                raise ValueError(f"router_settings.model_group_alias.{alias}: model group {group!r} is not in model_list")
        ls = self.litellm_settings
        if ls.cache:
            self._warnings.extend(ls.cache_params.warnings())
        if not ls.require_auth_for_metrics_endpoint:  # never loosens: /metrics always needs a credential
            self._warnings.append(METRICS_AUTH_IGNORED)
        if ls.max_budget is not None and not self.general_settings.master_key:
            raise ValueError("litellm_settings.max_budget needs general_settings.master_key (budgets are enforced "
                             "with virtual keys)")
        if self.litellm_settings.budget_duration and self.litellm_settings.max_budget is None:
            raise ValueError("litellm_settings.budget_duration needs litellm_settings.max_budget")
        if self.litellm_settings.budget_duration:
            from budget_service.durations import parse_duration

            try:
                parse_duration(self.litellm_settings.budget_duration)
            except Exception:
                raise ValueError(f"litellm_settings.budget_duration {self.litellm_settings.budget_duration!r} "
                                 "is not a duration like 30s, 30m, 30h, 30d or 1mo") from None
        return self

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


def _section_models() -> dict[str, type[BaseModel]]:
    return {"top": GatewayConfig, "litellm_settings": LiteLLMSettings, "router_settings": RouterSettings,
            "general_settings": GeneralSettings, "litellm_params": LiteLLMParams, "model_info": ModelInfo,
            "cache_params": CacheParams}


def _format_validation_error(exc: ValidationError) -> list[str]:
    from gemgate.config_screen import suggestion

    lines = []
    for err in exc.errors():
        loc = ""
        for part in err["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = ("unknown field: neither a gemgate nor a LiteLLM setting (check the spelling)"
                   + suggestion(tuple(err["loc"]), _section_models()))
        lines.append(f"{loc or '<root>'}: {msg}")
    return lines


def _invalid(lines: list[str]) -> ConfigError:
    return ConfigError("invalid config:\n  " + "\n  ".join(lines))


def parse_config(data: Any, environ: dict[str, str] | None = None) -> GatewayConfig:
    from gemgate.config_screen import screen

    env = dict(os.environ if environ is None else environ)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("invalid config: the top level must be a mapping")
    # a section left with only comments in YAML (`general_settings:`) is null: treat it as empty
    data = {k: v for k, v in data.items() if v is not None}
    # environment_variables (LiteLLM) are applied before os.environ/ references resolve; a variable
    # already set in the environment wins (as in LiteLLM)
    extra_env = data.get("environment_variables") or {}
    if not isinstance(extra_env, dict):
        raise ConfigError("invalid config:\n  environment_variables: must be a mapping")
    for k, v in extra_env.items():
        env.setdefault(str(k), str(v))
    resolved = _resolve_env(data, "", env)
    resolved, refusals, warnings = screen(resolved, _section_models())
    try:
        config = GatewayConfig.model_validate(resolved)
    except ValidationError as exc:
        raise _invalid(refusals + _format_validation_error(exc)) from None
    if refusals:
        raise _invalid(refusals)
    config.warnings.extend(warnings)
    return config


def export_environment(data: Any, environ: Any = None) -> None:
    """Export a raw config's environment_variables into the process environment (a variable that is
    already set wins), before anything else reads the environment (Google ADC, callbacks)."""
    env = os.environ if environ is None else environ
    if isinstance(data, dict) and isinstance(data.get("environment_variables"), dict):
        for k, v in data["environment_variables"].items():
            if v is not None:
                env.setdefault(str(k), str(v))


def load_config(path: str | Path, environ: dict[str, str] | None = None) -> GatewayConfig:
    """Read and validate config.yaml. For the real process environment (environ None) the file's
    environment_variables are exported into os.environ first."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {exc}") from None
    if environ is None:
        export_environment(data)
    return parse_config(data, environ)
