"""Which failures count toward a deployment's cooldown and for how long it cools down.

Policy:
- retryable kinds (408/429/5xx/timeouts) count toward `allowed_fails` within the current minute;
  more than `allowed_fails` -> cooldown for `cooldown_time`.
- 429 with retry_after -> immediate cooldown of at least retry_after (the upstream told us).
- AUTHENTICATION / PERMISSION / NOT_FOUND are deployment misconfigurations (bad key / model): they
  count like retryable failures (but are never retried on the same request).
- other client errors (INVALID_REQUEST, CONTEXT_LENGTH_EXCEEDED, CONTENT_POLICY, ...) are the
  caller's fault and never count.
- a deployment that is alone in its group never cools down (as in LiteLLM): there is nothing to
  route to instead, so a cooldown would only turn one upstream 429 into many gateway 429s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gemgate import error_policies
from gemgate.errors import ErrorKind, GatewayError
from router_service.routing.state import RouterState
from router_service.routing.strategies import dep_id

if TYPE_CHECKING:
    from gemgate.config import Deployment, RouterSettings

DEPLOYMENT_FAULTS = {ErrorKind.AUTHENTICATION, ErrorKind.PERMISSION, ErrorKind.NOT_FOUND}


def counts(err: GatewayError) -> bool:
    return err.retryable or err.kind in DEPLOYMENT_FAULTS


async def on_failure(state: RouterState, dep: Deployment, err: GatewayError, rs: RouterSettings,
                     group_size: int = 2) -> bool:
    """Count the failure; True if the deployment now cools down. router_settings.allowed_fails_policy
    counts failures per error class against that class's allowance; disable_cooldowns turns it off."""
    policy = error_policies.lookup("allowed_fails_policy", rs.allowed_fails_policy, err.kind)
    if rs.disable_cooldowns or (policy is None and not counts(err)) or group_size < 2:
        return False
    i, now = dep_id(dep), state.clock()
    cooling = False
    if err.kind is ErrorKind.RATE_LIMIT and err.retry_after:
        await state.set_cooldown(i, now + max(err.retry_after, rs.cooldown_time))
        cooling = True
    if policy is None:
        fails, allowed = await state.record_failure(i), rs.allowed_fails
    else:
        fails, allowed = await state.record_failure(f"{i}#{error_policies.class_of(err.kind)}"), policy
    if fails > allowed and rs.cooldown_time > 0:
        await state.set_cooldown(i, now + rs.cooldown_time)
        cooling = True
    return cooling
