"""Candidate filtering for one model group: cooldowns, rpm/tpm limits, `order` tiers, retry spread."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sys

from gemgate.errors import ErrorKind, GatewayError
from router_service.routing.state import RouterState
from router_service.routing.strategies import dep_id

if TYPE_CHECKING:
    from gemgate.config import Deployment


def at_limit(dep: Deployment, usage: tuple[int, int]) -> bool:
    p = dep.litellm_params
    return bool((p.rpm is not None and usage[0] >= p.rpm) or (p.tpm is not None and usage[1] >= p.tpm))


def _order(dep: Deployment) -> int:
    o = dep.litellm_params.order
    return sys.maxsize if o is None else o


async def candidates(group: str, deps: list[Deployment], state: RouterState, tried: set[str]) -> list[Deployment]:
    """Deployments of the lowest available `order` tier, preferring ones not tried by this request.
    Raises RATE_LIMIT naming the group when nothing is available."""
    ids = [dep_id(d) for d in deps]
    cool = await state.cooldowns(ids)
    limited = any(d.litellm_params.rpm is not None or d.litellm_params.tpm is not None for d in deps)
    use = await state.usage(ids) if limited else {}
    avail = [d for d, i in zip(deps, ids) if i not in cool and not (limited and at_limit(d, use[i]))]
    if not avail:
        now = state.clock()
        if cool and len(cool) == len(deps):
            end = min(cool.values())
            raise GatewayError(
                ErrorKind.RATE_LIMIT,
                f"No deployments available for model group `{group}`: all {len(deps)} are cooling down; "
                f"the earliest cooldown ends in {max(0.0, end - now):.1f}s",
                retry_after=max(0.0, end - now),
            )
        wait = 60 - (now % 60)
        if cool:
            wait = min(wait, min(cool.values()) - now)
        raise GatewayError(
            ErrorKind.RATE_LIMIT,
            f"No deployments available for model group `{group}`: rpm/tpm limits reached"
            + (f" ({len(cool)} cooling down)" if cool else "") + f"; retry in {max(0.0, wait):.1f}s",
            retry_after=max(0.0, wait),
        )
    tier = min(_order(d) for d in avail)
    tier_deps = [d for d in avail if _order(d) == tier]
    fresh = [d for d in tier_deps if dep_id(d) not in tried]
    return fresh or tier_deps
