"""Pricing: what a request may cost (admission) and what it did cost (settlement), in micro-USD.

Prices are kept as integer micro-USD per 1M tokens (== USD per token x 1e12) and every cost is
rounded UP to a whole micro-USD, so the arithmetic is exact and never under-charges.

The table is router_service/data/prices.yaml (router_service/price_table.py loads it).
Lookup: the deployment's `input_cost_per_token` / `output_cost_per_token` or `*_per_character`
(litellm_params first, then model_info) override the table; otherwise the longest table prefix of the upstream model name
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

from router_service import price_table

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


def _from_row(row: dict) -> Price:
    long = row.get("long_context")
    return _p(row["input"], row["output"], row.get("cached"), int(row.get("max_output", 65_536)),
              long_context_threshold=int(long["threshold"]) if long else None,
              long=_p(long["input"], long["output"], long.get("cached")) if long else None)


# the table lives in router_service/data/prices.yaml (date and sources noted there)
PRICES: dict[str, Price] = {name: _from_row(row) for name, row in price_table.load()[1].items()}

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


CHARS_PER_TOKEN = 4  # Google's stated equivalence, for per-character prices


def _override(lp: Any, mi: Any, name: str) -> float | None:
    """A price override in USD per token: litellm_params first, then model_info; *_per_character
    prices are converted at CHARS_PER_TOKEN characters per token."""
    for src in (lp, mi):
        v = _get(src, f"{name}_cost_per_token")
        if v is not None:
            return float(v)
        v = _get(src, f"{name}_cost_per_character")
        if v is not None:
            return float(v) * CHARS_PER_TOKEN
    return None


def _usd(v: float) -> int:
    return round(v * M * M)  # USD per token -> micro-USD per 1M tokens


def price_for(model: str, deployment: Any = None) -> Price:
    lp, mi = _params(deployment)
    base = _get(mi, "base_model") or _get(lp, "model") or model
    price = lookup(base) or lookup(model) or DEFAULT_PRICE
    inp, out = _override(lp, mi, "input"), _override(lp, mi, "output")
    if inp is not None or out is not None:
        i = _usd(inp) if inp is not None else price.input
        o = _usd(out) if out is not None else price.output
        price = Price(i, o, i if inp is not None else price.cached_input, o if out is not None else price.reasoning,
                      price.max_output_tokens)
    cached = _get(mi, "cache_read_input_token_cost")
    reasoning = _get(mi, "output_cost_per_reasoning_token")
    long_in = _get(mi, "input_cost_per_token_above_200k_tokens")
    long_out = _get(mi, "output_cost_per_token_above_200k_tokens")
    if cached is not None or reasoning is not None or long_in is not None or long_out is not None:
        long = price.long
        if long_in is not None or long_out is not None:
            base_long = long or price
            long = Price(_usd(long_in) if long_in is not None else base_long.input,
                         _usd(long_out) if long_out is not None else base_long.output,
                         base_long.cached_input, base_long.reasoning)
        price = Price(price.input, price.output, _usd(cached) if cached is not None else price.cached_input,
                      _usd(reasoning) if reasoning is not None else price.reasoning, price.max_output_tokens,
                      200_000 if long is not None and price.long_context_threshold is None else price.long_context_threshold,
                      long)
    max_out = _get(mi, "max_output_tokens") or _get(mi, "max_tokens")
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
