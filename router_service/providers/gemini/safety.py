"""safety_settings (deployment + per request, request wins per category) -> safetySettings."""

from __future__ import annotations

from typing import Any

from gemgate.errors import invalid

CATEGORIES = {
    "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY",
}
VERTEX_CATEGORIES = CATEGORIES | {
    "HARM_CATEGORY_JAILBREAK", "HARM_CATEGORY_IMAGE_HATE", "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT",
    "HARM_CATEGORY_IMAGE_HARASSMENT", "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT",
}
THRESHOLDS = {"BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF"}


def _validated(settings: Any, vertex: bool) -> dict[str, str]:
    if settings is None:
        return {}
    if not isinstance(settings, list):
        raise invalid("safety_settings must be a list of {category, threshold}", "safety_settings")
    allowed = VERTEX_CATEGORIES if vertex else CATEGORIES
    out: dict[str, str] = {}
    for i, item in enumerate(settings):
        where = f"safety_settings[{i}]"
        if not isinstance(item, dict) or set(item) - {"category", "threshold"}:
            raise invalid("each safety setting must be {category, threshold}", where)
        if item.get("category") not in allowed:
            raise invalid(f"unknown safety category {item.get('category')!r}", f"{where}.category")
        if item.get("threshold") not in THRESHOLDS:
            raise invalid(f"unknown safety threshold {item.get('threshold')!r}", f"{where}.threshold")
        out[item["category"]] = item["threshold"]
    return out


def to_safety_settings(request_settings: Any, deployment_settings: Any, *, vertex: bool) -> list[dict] | None:
    merged = _validated(deployment_settings, vertex)
    merged.update(_validated(request_settings, vertex))
    return [{"category": c, "threshold": t} for c, t in merged.items()] or None
