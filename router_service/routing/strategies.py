"""Pick one deployment among the available candidates of a model group (one `order` tier)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import random

from router_service.routing.state import RouterState

if TYPE_CHECKING:
    from gemgate.config import Deployment


def dep_id(dep: Deployment) -> str:
    return dep.model_info.id or dep.model_name


def _weights(deps: list[Deployment]) -> list[float] | None:
    for attr in ("weight", "rpm", "tpm"):
        vals = [getattr(d.litellm_params, attr) for d in deps]
        if all(v is not None for v in vals) and sum(vals) > 0:
            return [float(v) for v in vals]
    return None


async def pick(strategy: str, deps: list[Deployment], state: RouterState, rng: random.Random,
               stream: bool = False) -> Deployment:
    if len(deps) == 1:
        return deps[0]
    ids = [dep_id(d) for d in deps]
    if strategy == "least-busy":
        busy = await state.inflight(ids)
        low = min(busy.values())
        return rng.choice([d for d, i in zip(deps, ids) if busy[i] == low])
    if strategy == "latency-based-routing":
        lat = await state.latencies(ids, "ttft" if stream else "latency")
        if stream and all(v is None for v in lat.values()):
            lat = await state.latencies(ids, "latency")
        untried = [d for d, i in zip(deps, ids) if lat[i] is None]
        if untried:  # exploration: every deployment gets measured
            return rng.choice(untried)
        best = min(lat.values())
        return rng.choice([d for d, i in zip(deps, ids) if lat[i] == best])
    if strategy in ("usage-based-routing", "usage-based-routing-v2"):
        use = await state.usage(ids)

        def load(d: Deployment, i: str) -> float:
            rpm, tpm = use[i]
            p = d.litellm_params
            parts = []
            if p.tpm:
                parts.append(tpm / p.tpm)
            if p.rpm:
                parts.append(rpm / p.rpm)
            return max(parts) if parts else float(tpm)

        loads = [load(d, i) for d, i in zip(deps, ids)]
        low = min(loads)
        return rng.choice([d for d, v in zip(deps, loads) if v == low])
    w = _weights(deps)  # simple-shuffle
    return rng.choices(deps, weights=w)[0] if w else rng.choice(deps)
