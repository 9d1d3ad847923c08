from __future__ import annotations

from gemgate.config import parse_config
from router_service import cost


def dep(model: str, **params):
    info = params.pop("model_info", {})
    return parse_config({"model_list": [{"model_name": "g", "litellm_params": {"model": model, **params},
                                         "model_info": info}]}).model_list[0]


def test_table_lookup_longest_prefix_and_normalization():
    assert cost.lookup("gemini/gemini-2.5-flash-lite-preview-06-17") is cost.PRICES["gemini-2.5-flash-lite"]
    assert cost.lookup("vertex_ai/claude-opus-4-1@20250805") is cost.PRICES["claude-opus-4-1"]
    assert cost.lookup("vertex_ai/claude-opus-4@20250514") is cost.PRICES["claude-opus-4"]
    assert cost.lookup("gemini-3-pro-preview") is cost.PRICES["gemini-3-pro"]
    assert cost.lookup("models/gemini-2.0-flash-001") is cost.PRICES["gemini-2.0-flash"]
    assert cost.lookup("mystery") is None


def test_cost_exact_integer_micros():
    # gemini-2.5-flash: $0.30 in, $2.50 out per 1M -> 1000 in + 1000 out = 300 + 2500 micros
    usage = {"prompt_tokens": 1000, "completion_tokens": 1000}
    assert cost.cost_micros("gemini/gemini-2.5-flash", usage) == 2800
    # cached input and reasoning (inside completion_tokens)
    usage = {"prompt_tokens": 1000, "completion_tokens": 1000, "prompt_tokens_details": {"cached_tokens": 1000},
             "completion_tokens_details": {"reasoning_tokens": 400}}
    assert cost.cost_micros("gemini-2.5-flash", usage) == 30 + 2500  # cached $0.03 per 1M
    # rounding up, never down
    assert cost.cost_micros("gemini-2.5-flash", {"prompt_tokens": 1, "completion_tokens": 0}) == 1
    assert cost.cost_micros("x", None) == 0


def test_long_context_tier():
    usage = {"prompt_tokens": 300_000, "completion_tokens": 0}
    assert cost.cost_micros("gemini-2.5-pro", usage) == 300_000 * 2.5
    assert cost.cost_micros("gemini-2.5-pro", {"prompt_tokens": 100_000}) == 125_000


def test_overrides_from_litellm_params_and_model_info():
    d = dep("gemini/gemini-2.5-pro", input_cost_per_token=1e-6, output_cost_per_token=2e-6)
    assert cost.cost_micros("g", {"prompt_tokens": 10, "completion_tokens": 10}, d) == 30
    d = dep("gemini/custom-thing", model_info={"input_cost_per_token": 5e-7, "output_cost_per_token": 1e-6,
                                               "max_output_tokens": 100})
    assert cost.estimate_max_cost_micros(d, "g", 1000, None) == 500 + 100
    assert cost.estimate_max_cost_micros(d, "g", 1000, 10_000) == 600  # clamped to the model's limit


def test_unknown_model_uses_conservative_default():
    c = cost.cost_micros("vertex_ai/unknown", {"prompt_tokens": 1000, "completion_tokens": 1000})
    assert c == 15_000 + 75_000
    assert cost.estimate_max_cost_micros(None, "unknown", 0, None) == 65_536 * 75


def test_estimate_max_cost_uses_max_tokens_or_model_limit():
    assert cost.estimate_max_cost_micros(None, "claude-3-5-haiku", 0, None) == 8192 * 4
    assert cost.estimate_max_cost_micros(None, "claude-3-5-haiku", 1000, 100) == 800 + 400


def test_prompt_bound_counts_every_byte_and_media_bounds():
    req = {"messages": [{"role": "user", "content": "x" * 400},
                        {"role": "user", "content": [{"type": "text", "text": "y" * 30},
                                                     {"type": "image_url", "image_url": {"url": "data:"}}]}],
           "tools": [{"type": "function", "function": {"name": "f", "parameters": {"description": "z" * 500}}}]}
    n = cost.prompt_token_bound(req)
    assert n >= 400 + 30 + 500 + cost.IMAGE_TOKENS
    assert cost.prompt_token_bound({"input": "h\u00e9llo"}) >= 6  # bytes, not characters
    # one-letter words: more tokens than bytes/3 -- the bound still holds (one token per byte)
    words = " ".join(["a"] * 3000)
    assert cost.prompt_token_bound({"messages": [{"role": "user", "content": words}]}) >= len(words)
    # routing keeps the cheaper typical estimate
    assert cost.estimate_prompt_tokens({"input": "h\u00e9llo"}) == 2
    assert cost.requested_max_output({"input": "a"}) == 0
    assert cost.requested_max_output({"messages": [], "max_completion_tokens": 7}) == 7
    assert cost.requested_max_output({"messages": [], "max_tokens": 7, "reasoning_effort": "high"}) == 24576


def test_media_bounds():
    audio = {"type": "input_audio", "input_audio": {"data": "A" * 400_000, "format": "wav"}}
    assert cost.prompt_token_bound({"messages": [{"role": "user", "content": [audio]}]}) >= 300_000
    pdf = {"type": "file", "file": {"file_data": "data:application/pdf;base64," + "A" * 80_000}}
    assert cost.prompt_token_bound({"messages": [{"role": "user", "content": [pdf]}]}) >= 60_000
    ref = {"type": "file", "file": {"file_id": "gs://bucket/unknown-size.pdf"}}
    assert cost.prompt_token_bound({"messages": [{"role": "user", "content": [ref]}]}) >= cost.DEFAULT_INPUT_WINDOW
    assert cost.prompt_token_bound({"messages": [{"role": "user", "content": [ref]}]}, 1000) < 2000
