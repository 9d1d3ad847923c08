"""The price table data file (router_service/data/prices.yaml): loading and checking.

Rows are USD per 1M tokens; `router_service.cost` turns them into integer micro-USD `Price`s.
`unpriced_warnings(config)` names every deployment that would be charged the fallback rate.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PATH = Path(__file__).resolve().parent / "data" / "prices.yaml"
_ROW_KEYS = {"input", "output", "cached", "max_output", "long_context"}
_LONG_KEYS = {"threshold", "input", "output", "cached"}


def _check_row(name: str, row: Any) -> dict:
    if not isinstance(row, dict) or not {"input", "output"} <= set(row) or set(row) - _ROW_KEYS:
        raise ValueError(f"prices.yaml: {name}: needs input and output (allowed keys: {sorted(_ROW_KEYS)})")
    for key in ("input", "output", "cached"):
        if key in row and (not isinstance(row[key], (int, float)) or row[key] < 0):
            raise ValueError(f"prices.yaml: {name}.{key} must be a number >= 0")
    long = row.get("long_context")
    if long is not None and (not isinstance(long, dict) or set(long) - _LONG_KEYS
                             or not {"threshold", "input", "output"} <= set(long)):
        raise ValueError(f"prices.yaml: {name}.long_context needs threshold, input, output")
    return row


@lru_cache(maxsize=1)
def load(path: str = str(PATH)) -> tuple[str, dict[str, dict]]:
    """(as_of date, {model prefix: row})."""
    data = yaml.safe_load(Path(path).read_text())
    rows = {str(k).lower(): _check_row(str(k), v) for k, v in (data.get("models") or {}).items()}
    return str(data.get("as_of") or ""), rows


def _has_override(dep: Any) -> bool:
    lp, mi = dep.litellm_params, dep.model_info
    names = ("input_cost_per_token", "output_cost_per_token", "input_cost_per_character", "output_cost_per_character")
    return any(getattr(lp, n, None) is not None or getattr(mi, n, None) is not None for n in names)


def unpriced_warnings(config: Any) -> list[str]:
    """One warning per deployment whose model has no price (it is charged the fallback rate)."""
    from router_service import cost

    fb = cost.DEFAULT_PRICE
    rate = f"${fb.input / 1e6:g} input / ${fb.output / 1e6:g} output per 1M tokens"
    out = []
    for i, dep in enumerate(config.model_list):
        if _has_override(dep):
            continue
        model = dep.litellm_params.model
        if "*" in model:
            out.append(f"model_list[{i}] ({dep.model_name}): wildcard deployment; models it serves that are not in "
                       f"gemgate's price table are charged the fallback rate {rate}")
            continue
        base = dep.model_info.base_model or model
        if cost.lookup(base) is None and cost.lookup(model) is None:
            out.append(f"model_list[{i}] ({dep.model_name}): model {model!r} has no price in gemgate's table; it is "
                       f"charged the fallback rate {rate}. Set input_cost_per_token / output_cost_per_token to override")
    return out
