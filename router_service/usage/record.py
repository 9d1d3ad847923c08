"""The standard usage record: one per request (success or failure), never containing a secret.

Field names follow LiteLLM's StandardLoggingPayload where one exists (`to_standard_payload`).
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

KEY_HASH_PREFIX_LEN = 12
MAX_ERROR_MESSAGE = 1000

# Things that look like credentials: OpenAI-style keys, Google API keys, bearer tokens, ?key= params.
_SECRET_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{4,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{10,}"),
    re.compile(r"ya29\.[0-9A-Za-z_\-\.]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=]+"),
    re.compile(r"(?i)([?&](?:key|api_key|access_token)=)[^&\s]+"),
]


def key_hash_prefix(api_key_or_hash: str | None) -> str:
    """First 12 hex chars of sha256(key). A 64-hex value is treated as an existing hash."""
    if not api_key_or_hash:
        return ""
    v = api_key_or_hash
    if not (len(v) == 64 and all(c in "0123456789abcdef" for c in v)):
        v = hashlib.sha256(v.encode()).hexdigest()
    return v[:KEY_HASH_PREFIX_LEN]


def scrub(message: str | None, secrets: tuple[str, ...] = ()) -> str:
    """Remove credentials from an error message (known secrets verbatim + key-shaped tokens)."""
    if not message:
        return ""
    out = message
    for s in secrets:
        if s:
            out = out.replace(s, "[REDACTED]")
    for pat in _SECRET_PATTERNS:
        if pat.groups:
            out = pat.sub(lambda m: m.group(1) + "[REDACTED]", out)
        else:
            out = pat.sub("[REDACTED]", out)
    return out[:MAX_ERROR_MESSAGE]


@dataclass
class UsageRecord:
    request_id: str  # made by the gateway: the ledger's id of this request
    model_group: str
    call_type: Literal["chat", "embeddings"] = "chat"
    status: Literal["success", "failure"] = "success"
    stream: bool = False
    start_time: float = 0.0  # unix seconds
    end_time: float = 0.0
    first_token_time: float | None = None  # streams only
    deployment_id: str = ""
    provider: str = ""
    model: str = ""  # upstream model as reported by the response
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    response_cost: float = 0.0  # USD
    key_alias: str = ""
    key_hash_prefix: str = ""
    team_id: str = ""
    user_id: str = ""
    error_type: str = ""
    error_code: str = ""
    error_message: str = ""
    # request/response facts for tracing sinks (no prompt content)
    client_request_id: str = ""  # the client's x-request-id (a correlation label only)
    response_id: str = ""
    finish_reasons: list[str] = field(default_factory=list)
    max_tokens: int | None = None
    temperature: float | None = None
    attempts: int = 1
    fallback_used: str = ""
    cache_hit: bool = False  # answered from the response cache (cost 0)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def response_cost_micros(self) -> int:
        return int(round(self.response_cost * 1_000_000))

    @property
    def latency(self) -> float:
        return max(0.0, self.end_time - self.start_time)

    @property
    def time_to_first_token(self) -> float | None:
        if self.first_token_time is None:
            return None
        return max(0.0, self.first_token_time - self.start_time)

    # ---- builders ----
    def with_usage(self, usage: dict | None) -> "UsageRecord":
        """Fill token counts from an OpenAI `usage` dict (missing/None parts count as 0)."""
        usage = usage or {}
        self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        self.completion_tokens = int(usage.get("completion_tokens") or 0)
        ptd = usage.get("prompt_tokens_details") or {}
        ctd = usage.get("completion_tokens_details") or {}
        self.cached_tokens = int(ptd.get("cached_tokens") or 0)
        self.reasoning_tokens = int(ctd.get("reasoning_tokens") or 0)
        return self

    def with_request(self, request: dict | None) -> "UsageRecord":
        request = request or {}
        mt = request.get("max_completion_tokens") or request.get("max_tokens")
        self.max_tokens = int(mt) if mt is not None else None
        t = request.get("temperature")
        self.temperature = float(t) if t is not None else None
        self.stream = bool(request.get("stream", self.stream))
        return self

    def with_response(self, response: dict | None) -> "UsageRecord":
        """Fill id, model, finish reasons and usage from an OpenAI response (or final chunk) dict."""
        response = response or {}
        self.response_id = str(response.get("id") or self.response_id)
        self.model = str(response.get("model") or self.model)
        reasons = [c.get("finish_reason") for c in response.get("choices") or [] if c.get("finish_reason")]
        if reasons:
            self.finish_reasons = [str(r) for r in reasons]
        if response.get("usage") is not None:
            self.with_usage(response["usage"])
        return self

    def with_route(self, route: Any) -> "UsageRecord":
        """Fill deployment facts from a router `RouteInfo` (duck-typed)."""
        if route is None:
            return self
        self.model_group = getattr(route, "model_group", "") or self.model_group
        self.deployment_id = getattr(route, "model_id", "") or ""
        self.provider = getattr(route, "provider", "") or ""
        self.attempts = int(getattr(route, "attempts", 1) or 1)
        self.fallback_used = getattr(route, "fallback_used", None) or ""
        return self

    def with_identity(self, identity: Any) -> "UsageRecord":
        """Fill key facts from a budget `KeyIdentity` (proto or any object with the same fields)."""
        if identity is None:
            return self
        self.key_alias = getattr(identity, "key_alias", "") or ""
        self.key_hash_prefix = key_hash_prefix(getattr(identity, "key_hash", "") or "")
        self.team_id = getattr(identity, "team_id", "") or ""
        self.user_id = getattr(identity, "user_id", "") or ""
        return self

    def with_error(self, exc: BaseException, secrets: tuple[str, ...] = ()) -> "UsageRecord":
        """Mark as failure. GatewayError gives kind name + code; anything else is INTERNAL."""
        self.status = "failure"
        kind = getattr(exc, "kind", None)
        self.error_type = kind.name if kind is not None else type(exc).__name__
        self.error_code = str(getattr(exc, "code", "") or "") if kind is not None else "internal_error"
        self.error_message = scrub(getattr(exc, "message", None) or str(exc), secrets)
        return self

    def with_cost(self, usd: float | None = None, *, micros: int | None = None) -> "UsageRecord":
        """Set the cost in USD, or from integer micro-USD (what the budget service settles)."""
        self.response_cost = micros / 1_000_000 if micros is not None else float(usd or 0.0)
        return self

    def finish(self, now: float | None = None) -> "UsageRecord":
        self.end_time = time.time() if now is None else now
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["total_tokens"] = self.total_tokens
        d["response_cost_micros"] = self.response_cost_micros
        return d

    def to_standard_payload(self) -> dict:
        """LiteLLM StandardLoggingPayload-shaped dict (the subset gemgate knows)."""
        return {
            "id": self.request_id,
            "trace_id": self.request_id,
            "call_type": "acompletion" if self.call_type == "chat" else "aembedding",
            "stream": self.stream,
            "cache_hit": self.cache_hit,
            "response_cost": self.response_cost,
            "status": self.status,
            "total_tokens": self.total_tokens,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "startTime": self.start_time,
            "endTime": self.end_time,
            "completionStartTime": self.first_token_time if self.first_token_time is not None else self.end_time,
            "response_time": self.latency,
            "model": self.model or self.model_group,
            "model_id": self.deployment_id,
            "model_group": self.model_group,
            "custom_llm_provider": self.provider,
            "metadata": {
                "user_api_key_hash": self.key_hash_prefix,
                "user_api_key_alias": self.key_alias,
                "user_api_key_team_id": self.team_id,
                "user_api_key_user_id": self.user_id,
                "usage_object": {
                    "prompt_tokens": self.prompt_tokens,
                    "completion_tokens": self.completion_tokens,
                    "total_tokens": self.total_tokens,
                    "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
                    "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
                },
            },
            "error_str": self.error_message or None,
            "error_information": {
                "error_class": self.error_type,
                "error_code": self.error_code,
                "error_message": self.error_message,
            } if self.status == "failure" else None,
            "response_cost_micros": self.response_cost_micros,
            "gemgate": {"attempts": self.attempts, "fallback_used": self.fallback_used,
                        "time_to_first_token": self.time_to_first_token},
        }


def new_record(model_group: str, *, request_id: str | None = None, call_type: str = "chat",
               stream: bool = False, start_time: float | None = None) -> UsageRecord:
    """Start a record at request start; fill the rest with the `with_*` builders and `finish()`."""
    return UsageRecord(
        request_id=request_id or f"req-{uuid.uuid4().hex}",
        model_group=model_group,
        call_type=call_type,  # type: ignore[arg-type]
        stream=stream,
        start_time=time.time() if start_time is None else start_time,
    )
