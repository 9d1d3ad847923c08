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


def test_prompt_estimate_is_conservative():
    req = {"messages": [{"role": "user", "content": "x" * 400},
                        {"role": "user", "content": [{"type": "text", "text": "y" * 30},
                                                     {"type": "image_url", "image_url": {"url": "data:"}}]}],
           "tools": [{"type": "function", "function": {"name": "f"}}]}
    n = cost.estimate_prompt_tokens(req)
    assert n >= 400 // 4 + 30 // 4 + cost.IMAGE_TOKENS
    assert cost.estimate_prompt_tokens({"input": "héllo"}) == 2
    assert cost.requested_max_output({"input": "a"}) == 0
    assert cost.requested_max_output({"messages": [], "max_completion_tokens": 7}) == 7
