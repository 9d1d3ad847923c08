"""Exponential backoff with full jitter, honouring an upstream Retry-After (capped)."""

from __future__ import annotations

import random

BASE_DELAY = 0.5
MAX_DELAY = 8.0
MAX_RETRY_AFTER = 60.0


def delay(attempt: int, rng: random.Random, retry_after: float | None = None, floor: float = 0.0) -> float:
    """Seconds to wait before retry number `attempt` (1-based). `floor` = router_settings.retry_after."""
    d = rng.uniform(0, min(MAX_DELAY, BASE_DELAY * (2 ** (attempt - 1))))
    if retry_after:
        d = max(d, min(retry_after, MAX_RETRY_AFTER))
    return max(d, floor)
