"""OpenAI sampling/format params -> Gemini generationConfig, plus the unsupported-param check.

Decisions:
- reasoning_effort on gemini-2.5*: thinkingBudget none=0 (2.5-pro cannot disable thinking: 128),
  minimal=512, low=1024, medium=8192, high=24576. On gemini-3*: thinkingLevel none/minimal=MINIMAL,
  low=LOW, medium=MEDIUM, high=HIGH. Any effort other than none also sets includeThoughts so thoughts
  come back as reasoning_content. On other models reasoning_effort is an unsupported param.
- Anthropic-style `thinking` on gemini-2.5*: budget_tokens must lie in the model's thinkingBudget range
  (2.5 Pro 128-32768, Flash 0-24576, Flash-Lite 0 or 512-24576; else a 400 naming
  thinking.budget_tokens); `{"type": "disabled"}` is what reasoning_effort none gives (2.5 Pro cannot
  turn thinking off: its minimum, 128).
- json_schema response_format -> responseJsonSchema (raw JSON Schema; never responseSchema too).
"""

from __future__ import annotations

import re
from typing import Any

from gemgate.errors import invalid


TRANSLATED = {
    "model", "messages", "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "n",
    "stop", "seed", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
    "response_format", "tools", "tool_choice", "parallel_tool_calls", "reasoning_effort", "user",
    "modalities", "thinking",
}
# gateway-level keys handled elsewhere (router, budget, facade); never translation params
GATEWAY_KEYS = {
    "stream", "stream_options", "metadata", "mock_response", "drop_params", "safety_settings",
    "num_retries", "max_retries", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks",
    "timeout", "request_timeout", "store", "service_tier", "tags",
}
GATEWAY_PREFIXES = ("mock_testing_",)

_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
_LEVELS = {"none": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}


def _drop_params(req: dict, deployment: dict) -> bool:
    return bool(req.get("drop_params") or deployment.get("drop_params"))


def unsupported_params(req: dict) -> list[str]:
    """Top-level keys with a non-null value that are neither translated nor gateway keys."""
    bad = []
    for key, val in req.items():
        if val is None or key in TRANSLATED or key in GATEWAY_KEYS or key.startswith(GATEWAY_PREFIXES):
            continue
        bad.append(key)
    modalities = req.get("modalities")
    if modalities is not None and modalities != ["text"]:
        bad.append("modalities")
    return bad


def check_params(req: dict, deployment: dict, model: str) -> set[str]:
    """Raise 400 for the first unsupported param unless drop_params; return the keys to ignore."""
    bad = unsupported_params(req)
    if req.get("reasoning_effort") is not None and _thinking_family(model) is None:
        bad.append("reasoning_effort")
    if req.get("thinking") is not None and _thinking_family(model) is None:
        bad.append("thinking")
    # Gemini has no switch for "at most one tool call per turn": refuse rather than ignore it
    if req.get("parallel_tool_calls") is False and req.get("tools"):
        bad.append("parallel_tool_calls")
    if bad and not _drop_params(req, deployment):
        raise invalid(f"{bad[0]} is not supported by Gemini models (set drop_params to ignore it)", bad[0])
    return set(bad)


def _thinking_family(model: str) -> str | None:
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith("gemini-3"):
        return "3"
    if name.startswith("gemini-2.5"):
        return "2.5"
    return None


def _thinking_config(effort: str, model: str) -> dict:
    if effort not in _BUDGETS:
        raise invalid("reasoning_effort must be one of none, minimal, low, medium, high", "reasoning_effort")
    include = {"includeThoughts": True} if effort != "none" else {}
    if _thinking_family(model) == "3":
        return {"thinkingLevel": _LEVELS[effort], **include}
    budget = _BUDGETS[effort]
    if budget == 0 and "pro" in model.lower():
        budget = 128
    return {"thinkingBudget": budget, **include}


def _number(req: dict, key: str, lo: float, hi: float) -> float | None:
    val = req.get(key)
    if val is None:
        return None
    if isinstance(val, bool) or not isinstance(val, (int, float)) or not lo <= val <= hi:
        raise invalid(f"{key} must be a number between {lo} and {hi}", key)
    return val


def _int(req: dict, key: str, lo: int, hi: int | None = None) -> int | None:
    val = req.get(key)
    if val is None:
        return None
    if isinstance(val, bool) or not isinstance(val, int) or val < lo or (hi is not None and val > hi):
        raise invalid(f"{key} must be an integer >= {lo}" + (f" and <= {hi}" if hi is not None else ""), key)
    return val


def _response_format(fmt: Any) -> dict:
    if fmt is None:
        return {}
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
            raise invalid("response_format.json_schema must be an object with a schema", "response_format.json_schema")
        out: dict[str, Any] = {"responseMimeType": "application/json"}
        if spec.get("schema"):
            out["responseJsonSchema"] = spec["schema"]
        return out
    raise invalid("response_format.type must be text, json_object or json_schema", "response_format.type")


def _logprobs(req: dict) -> dict:
    top = _int(req, "top_logprobs", 0, 20)
    if not req.get("logprobs"):
        if top is not None:
            raise invalid("top_logprobs requires logprobs to be true", "top_logprobs")
        return {}
    out: dict[str, Any] = {"responseLogprobs": True}
    if top is not None:
        out["logprobs"] = top
    return out


def _max_tokens(req: dict, deployment: dict, limit: int | None) -> int | None:
    """The request's output limit (int32 like Gemini's field), clamped to the model's known output
    limit: asking for more than a model can produce just means "as much as it can" (the budget
    reservation uses the same clamped value)."""
    val = None
    for key in ("max_completion_tokens", "max_tokens"):
        val = _int(req, key, 1, 2**31 - 1)
        if val is not None:
            break
    if val is None:
        val = deployment.get("max_tokens")
    if val is not None and limit:
        val = min(val, limit)
    return val


def generation_config(req: dict, deployment: dict, model: str, dropped: set[str],
                      output_limit: int | None = None) -> dict:
    gen: dict[str, Any] = {}
    pairs = [("temperature", _number(req, "temperature", 0, 2)), ("topP", _number(req, "top_p", 0, 1)),
             ("topK", _int(req, "top_k", 1)), ("candidateCount", _int(req, "n", 1, 8)),
             ("maxOutputTokens", _max_tokens(req, deployment, output_limit)), ("seed", _int(req, "seed", -(2**31), 2**31 - 1)),
             ("presencePenalty", _number(req, "presence_penalty", -2, 2)),
             ("frequencyPenalty", _number(req, "frequency_penalty", -2, 2))]
    gen.update({k: v for k, v in pairs if v is not None})
    stop = req.get("stop")
    if stop:
        stop = [stop] if isinstance(stop, str) else list(stop)
        if len(stop) > 5:
            raise invalid("stop accepts at most 5 sequences for Gemini models", "stop")
        gen["stopSequences"] = stop
    gen.update(_response_format(req.get("response_format")))
    gen.update(_logprobs(req))
    effort = req.get("reasoning_effort")
    if effort is not None and "reasoning_effort" not in dropped:
        gen["thinkingConfig"] = _thinking_config(effort, model)
    elif req.get("thinking") is not None and "thinking" not in dropped:
        gen["thinkingConfig"] = _thinking_param(req["thinking"], model)
    return gen


def budget_range(model: str) -> tuple[int, int] | None:
    """Gemini 2.5's accepted thinkingBudget (besides -1, dynamic, and 0 where thinking can be off):
    (lowest, highest); None for other models."""
    name = model.rsplit("/", 1)[-1].lower()
    if not name.startswith("gemini-2.5"):
        return None
    if "pro" in name:
        return 128, 32768
    return (512, 24576) if "lite" in name else (1, 24576)


def _thinking_param(thinking: Any, model: str = "") -> dict:
    """Anthropic-style `thinking` ({"type": "enabled", "budget_tokens": N} / {"type": "disabled"}),
    as LiteLLM accepts it for Gemini -> thinkingConfig."""
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
        raise invalid('thinking must be {"type": "enabled", "budget_tokens": N} or {"type": "disabled"}', "thinking")
    if thinking["type"] == "disabled":
        return _thinking_config("none", model)
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
        raise invalid("thinking.budget_tokens must be an integer >= 0", "thinking.budget_tokens")
    rng = budget_range(model)
    if rng is not None and not (rng[0] <= budget <= rng[1] or (budget == 0 and "pro" not in model.lower())):
        off = "" if "pro" in model.lower() else " (or 0 to turn thinking off)"
        raise invalid(f"thinking.budget_tokens {budget} is outside what {model.rsplit('/', 1)[-1]} accepts: "
                      f"{rng[0]} to {rng[1]}{off}", "thinking.budget_tokens")
    return {"thinkingBudget": budget, "includeThoughts": True}


_LABEL_BAD = re.compile(r"[^a-z0-9_-]")


def vertex_labels(user: Any) -> dict | None:
    if not isinstance(user, str) or not user:
        return None
    return {"user": _LABEL_BAD.sub("_", user.lower())[:63]}
