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

import functools

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


@functools.lru_cache(maxsize=4096)
def lookup(model: str) -> Price | None:
    """The price table row for `model` (longest matching prefix); memoized, the table is fixed."""
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


# ---- admission: upper bounds of what a request can cost ----
# Prompt tokens are bounded, not estimated: every tokenizer used upstream (SentencePiece / BPE with
# byte fallback) emits at most one token per UTF-8 byte, so the bytes of ALL text the client sends
# (every string in the request: messages, names, tool schemas, response_format, tool calls, ...)
# bound the text tokens. Media parts get a per-part bound (below). Plus per-message and per-request
# template overhead.
REQUEST_OVERHEAD = 32
MESSAGE_OVERHEAD = 16
# One image (any resolution; Gemini bills 258 tokens per 768 px tile of a downscaled image, Claude
# about pixels/750 of an image downscaled to ~1.15 MP): assumed at most 24 tiles.
IMAGE_TOKENS = 24 * 258
# A file/audio part sent inline: at most one token per byte of its decoded data (audio is billed 32
# tokens/s, video 263/s, PDF pages 258 -- far below one per byte at any real bitrate / page size).
# A file given by reference (gs://, file id) has no known size: it is bounded by the model's input
# window instead (model_info.max_input_tokens, else DEFAULT_INPUT_WINDOW).
DEFAULT_INPUT_WINDOW = 1_048_576
_MEDIA_KEYS = ("image_url", "input_audio", "file")


def _text_tokens(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _data_bytes(url: str) -> int | None:
    """Decoded size of a data: URI's payload (base64 or not); None for a reference."""
    if not url.startswith("data:"):
        return None
    head, _, data = url.partition(",")
    return (len(data) * 3) // 4 + 3 if head.endswith(";base64") else len(data.encode())


def _media_tokens(part: dict, window: int) -> int:
    kind = part.get("type")
    if kind == "image_url":
        return IMAGE_TOKENS
    if kind == "input_audio":
        data = (part.get("input_audio") or {}).get("data") if isinstance(part.get("input_audio"), dict) else ""
        return max(IMAGE_TOKENS, (len(str(data or "")) * 3) // 4 + 3)
    f = part.get("file") if isinstance(part.get("file"), dict) else {}
    size = _data_bytes(str(f.get("file_data") or "")) if f.get("file_data") else None
    return window if size is None else min(window, max(IMAGE_TOKENS, size))


def _walk(value: Any, window: int) -> int:
    """Tokens bound of any JSON value: bytes of every string (keys too), media parts by their bound."""
    if isinstance(value, str):
        return _text_tokens(value)
    if isinstance(value, dict):
        if value.get("type") in _MEDIA_KEYS and any(k in value for k in _MEDIA_KEYS):
            return _media_tokens(value, window)
        return sum(_text_tokens(str(k)) + _walk(v, window) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(_walk(v, window) for v in value)
    if value is None or isinstance(value, bool):
        return 1
    return len(str(value))


# request fields that never reach the model as prompt text
_NOT_PROMPT = {"model", "max_tokens", "max_completion_tokens", "n", "stream", "stream_options", "temperature",
               "top_p", "top_k", "seed", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
               "reasoning_effort", "user", "timeout", "num_retries", "fallbacks", "mock_response",
               "mock_testing_fallbacks", "mock_testing_rate_limit_error", "mock_testing_context_fallbacks",
               "mock_testing_content_policy_fallbacks", "drop_params", "metadata", "safety_settings"}


def prompt_token_bound(request: dict, input_window: int = DEFAULT_INPUT_WINDOW) -> int:
    """An upper bound of the prompt tokens of an OpenAI chat or embeddings request (never an
    average: a client cannot make the real count exceed it, except by media beyond the documented
    per-part bounds)."""
    total = REQUEST_OVERHEAD
    for name, value in request.items():
        if name in _NOT_PROMPT:
            continue
        if name == "messages" and isinstance(value, list):
            total += sum(MESSAGE_OVERHEAD + _walk(m, input_window) for m in value)
        elif name == "input" and isinstance(value, list):  # embeddings: strings or token-id lists
            total += sum(len(v) if isinstance(v, list) else _walk(v, input_window) for v in value)
        else:
            total += _walk(value, input_window)
    return total


_AVG_IMAGE_TOKENS = 1_600


def estimate_prompt_tokens(request: dict) -> int:
    """A typical-case prompt size (~3 bytes per token) for ROUTING decisions (pre-call context
    checks), where the upper bound would wrongly skip deployments. Never used for money."""
    total = 0
    for msg in request.get("messages") or []:
        total += 8
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            total += -(-_text_tokens(content) // 3)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    total += -(-_text_tokens(str(part.get("text") or "")) // 3)
                else:
                    total += _AVG_IMAGE_TOKENS
        if isinstance(msg, dict) and msg.get("tool_calls"):
            total += -(-_text_tokens(json.dumps(msg["tool_calls"])) // 3)
    if request.get("tools"):
        total += -(-_text_tokens(json.dumps(request["tools"])) // 3)
    inp = request.get("input")
    if isinstance(inp, str):
        total += -(-_text_tokens(inp) // 3)
    elif isinstance(inp, list):
        for item in inp:
            total += -(-_text_tokens(item) // 3) if isinstance(item, str) else len(item) if isinstance(item, list) else 1
    return total


_THINKING_BUDGET = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24576}


def requested_max_output(request: dict) -> int | None:
    """The output the request allows per choice, thinking included: max_tokens (Gemini's
    maxOutputTokens and Claude's max_tokens cap thinking + answer), never below an explicitly
    requested thinking budget. None: the request sets no limit (the model's / deployment's applies)."""
    if "input" in request and "messages" not in request:
        return 0  # embeddings produce no output tokens
    out = None
    for name in ("max_completion_tokens", "max_tokens"):
        v = request.get(name)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            out = v
            break
    if out is None:
        return None
    thinking = request.get("thinking")
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    extra = max(_THINKING_BUDGET.get(str(request.get("reasoning_effort")), 0),
                budget if isinstance(budget, int) and not isinstance(budget, bool) else 0)
    return max(out, extra)
