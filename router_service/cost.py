"""Pricing: what a request may cost (admission) and what it did cost (settlement), in micro-USD.

Prices are kept as integer micro-USD per 1M tokens (== USD per token x 1e12) and every cost is
rounded UP to a whole micro-USD, so the arithmetic is exact and never under-charges.

Lookup: the deployment's `input_cost_per_token` / `output_cost_per_token` (litellm_params first, then
model_info) override the table; otherwise the longest table prefix of the upstream model name
(provider prefix, "models/" and "@version" stripped; model_info.base_model wins if set).
Unknown models with no override use DEFAULT_PRICE: Claude Opus rates ($15 in / $75 out per 1M
tokens, 65,536 max output tokens) -- deliberately the most expensive, so an unpriced model can
never overspend a budget; set the override to charge correctly.
Long-context tiers (Gemini 2.5/3 Pro above 200K prompt tokens) use the higher rates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

M = 1_000_000  # micro-USD per USD, and tokens per "per 1M tokens" price


@dataclass(frozen=True)
class Price:
    input: int                 # micro-USD per 1M input tokens
    output: int                # micro-USD per 1M output tokens
    cached_input: int | None = None  # defaults to input
    reasoning: int | None = None     # defaults to output
    max_output_tokens: int = 65_536
    long_context_threshold: int | None = None  # prompt tokens above which `long` applies
    long: "Price | None" = None


def _p(inp: float, out: float, cached: float | None = None, max_out: int = 65_536, **kw) -> Price:
    return Price(round(inp * M), round(out * M), None if cached is None else round(cached * M), None, max_out, **kw)


PRICES: dict[str, Price] = {
    # Gemini (USD per 1M tokens)
    "gemini-2.0-flash-lite": _p(0.075, 0.30, 0.01875, 8_192),
    "gemini-2.0-flash": _p(0.10, 0.40, 0.025, 8_192),
    "gemini-2.5-flash-lite": _p(0.10, 0.40, 0.025),
    "gemini-2.5-flash": _p(0.30, 2.50, 0.075),
    "gemini-2.5-pro": _p(1.25, 10.0, 0.3125, long_context_threshold=200_000, long=_p(2.50, 15.0, 0.625)),
    "gemini-3-pro": _p(2.0, 12.0, 0.20, long_context_threshold=200_000, long=_p(4.0, 18.0, 0.40)),
    "gemini-3-flash": _p(0.50, 3.0, 0.05),
    "gemini-embedding-001": _p(0.15, 0.0, max_out=0),
    "text-embedding-004": _p(0.10, 0.0, max_out=0),
    "text-embedding-005": _p(0.10, 0.0, max_out=0),
    "text-multilingual-embedding-002": _p(0.10, 0.0, max_out=0),
    # Claude on Vertex
    "claude-sonnet-4-5": _p(3.0, 15.0, 0.30, 64_000),
    "claude-sonnet-4": _p(3.0, 15.0, 0.30, 64_000),
    "claude-opus-4-1": _p(15.0, 75.0, 1.50, 32_000),
    "claude-opus-4": _p(15.0, 75.0, 1.50, 32_000),
    "claude-3-5-haiku": _p(0.80, 4.0, 0.08, 8_192),
    "claude-haiku-4-5": _p(1.0, 5.0, 0.10, 64_000),
}

DEFAULT_PRICE = _p(15.0, 75.0, 15.0)


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _params(deployment: Any) -> tuple[Any, Any]:
    """(litellm_params, model_info) of a gemgate.config.Deployment or an equivalent dict."""
    return _get(deployment, "litellm_params"), _get(deployment, "model_info")


def normalize(model: str) -> str:
    name = model.split("/", 1)[1] if "/" in model and model.split("/", 1)[0] in ("gemini", "vertex_ai") else model
    name = name.removeprefix("models/").removeprefix("publishers/google/models/")
    return name.split("@", 1)[0].lower()


def lookup(model: str) -> Price | None:
    name = normalize(model)
    best = None
    for prefix in PRICES:
        if name.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return PRICES[best] if best else None


def price_for(model: str, deployment: Any = None) -> Price:
    lp, mi = _params(deployment)
    base = _get(mi, "base_model") or _get(lp, "model") or model
    price = lookup(base) or lookup(model) or DEFAULT_PRICE
    inp = _get(lp, "input_cost_per_token")
    inp = inp if inp is not None else _get(mi, "input_cost_per_token")
    out = _get(lp, "output_cost_per_token")
    out = out if out is not None else _get(mi, "output_cost_per_token")
    if inp is not None or out is not None:
        i = round(inp * M * M) if inp is not None else price.input
        o = round(out * M * M) if out is not None else price.output
        price = Price(i, o, i if inp is not None else price.cached_input, o if out is not None else price.reasoning,
                      price.max_output_tokens)
    max_out = _get(mi, "max_output_tokens")
    if max_out:
        price = Price(price.input, price.output, price.cached_input, price.reasoning, int(max_out),
                      price.long_context_threshold, price.long)
    return price


def _tier(price: Price, prompt_tokens: int) -> Price:
    if price.long and price.long_context_threshold and prompt_tokens > price.long_context_threshold:
        return price.long
    return price


def _cost(tokens: int, per_million: int) -> int:
    return -(-max(0, tokens) * per_million // M)  # ceil


def estimate_max_cost_micros(
    deployment_params: Any, model: str, prompt_tokens_estimate: int, max_output_tokens: int | None
) -> int:
    """Worst-case cost: the estimated prompt at the input rate plus the most output the model may
    produce (max_tokens, clamped to the model's limit; the limit itself when max_tokens is absent)."""
    price = price_for(model, deployment_params)
    limit = price.max_output_tokens
    out_tokens = limit if max_output_tokens is None else min(max(0, max_output_tokens), limit)
    t = _tier(price, prompt_tokens_estimate)
    out_rate = max(t.output, t.reasoning if t.reasoning is not None else t.output)
    return _cost(prompt_tokens_estimate, t.input) + _cost(out_tokens, out_rate)


def cost_micros(model: str, usage: dict | None, deployment_params: Any = None) -> int:
    """Actual cost of an OpenAI `usage` object. completion_tokens includes reasoning tokens."""
    if not usage:
        return 0
    price = price_for(model, deployment_params)
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cached = int(((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
    reasoning = int(((usage.get("completion_tokens_details") or {}).get("reasoning_tokens")) or 0)
    t = _tier(price, prompt)
    cached = min(cached, prompt)
    text_out = completion - reasoning if completion >= reasoning else completion
    cached_rate = t.cached_input if t.cached_input is not None else t.input
    reasoning_rate = t.reasoning if t.reasoning is not None else t.output
    return (_cost(prompt - cached, t.input) + _cost(cached, cached_rate)
            + _cost(text_out, t.output) + _cost(reasoning, reasoning_rate))


IMAGE_TOKENS = 1_600  # flat, conservative, per non-text part (image/audio/file)
MESSAGE_OVERHEAD = 8


def _text_tokens(text: str) -> int:
    # ~3 UTF-8 bytes per token errs high for English (~4 chars/token) and holds for most scripts.
    return -(-len(text.encode()) // 3)


def estimate_prompt_tokens(request: dict) -> int:
    """Cheap, conservative prompt token estimate of an OpenAI chat or embeddings request."""
    total = 0
    for msg in request.get("messages") or []:
        total += MESSAGE_OVERHEAD
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            total += _text_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    total += _text_tokens(str(part.get("text") or ""))
                else:
                    total += IMAGE_TOKENS
        if isinstance(msg, dict) and msg.get("tool_calls"):
            total += _text_tokens(json.dumps(msg["tool_calls"]))
    if request.get("tools"):
        total += _text_tokens(json.dumps(request["tools"]))
    inp = request.get("input")
    if isinstance(inp, str):
        total += _text_tokens(inp)
    elif isinstance(inp, list):
        for item in inp:
            total += _text_tokens(item) if isinstance(item, str) else len(item) if isinstance(item, list) else 1
    return total


def requested_max_output(request: dict) -> int | None:
    if "input" in request and "messages" not in request:
        return 0  # embeddings produce no output tokens
    for name in ("max_completion_tokens", "max_tokens"):
        v = request.get(name)
        if isinstance(v, int) and v > 0:
            return v
    return None
