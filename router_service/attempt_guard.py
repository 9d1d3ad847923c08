"""Admission of every upstream attempt (the router calls `before_attempt` before each one).

One request is admitted once (CallScope.admit: key, limits, reservation on its model group), but it
may be served by other groups (per-request `fallbacks`, config fallbacks, mock_testing_* switches)
and other deployments (retries). Before each attempt:
1. the key's and its team's model allowlists must allow the group (config fallbacks outside the
   allowlist are skipped; the primary group was checked at admission);
2. the reservation must cover the group's upper bound (else it is raised by the difference, or the
   request stops with budget_exceeded);
3. before the first upstream call, budget_service records that the request started (what a dead
   router's reservation is resolved by).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gemgate.errors import ErrorKind, GatewayError
from router_service.budget_client import Admission, model_allowed

if TYPE_CHECKING:
    from gemgate.config import Deployment


def not_allowed(admission: Admission, group: str, param: str = "model") -> GatewayError:
    ident = admission.identity
    allowed = ", ".join(ident.models) if ident.models else ", ".join(ident.team_models)
    return GatewayError(
        ErrorKind.PERMISSION,
        f"This API key is not allowed to use model {group!r} (allowed: {allowed}).",
        param=param, code="model_not_allowed",
    )


class AttemptGuard:
    def __init__(self, gate, admission: Admission) -> None:
        self.gate = gate
        self.admission = admission
        # the admitted group's reservation already covers its own deployments (same estimate)
        self._covered: set[str] = {admission.model} if admission.model else set()

    def _allowed(self, group: str) -> bool:
        return model_allowed(self.admission.identity, group, getattr(self.gate, "access_groups", None))

    def check_groups(self, groups: list[str], param: str) -> None:
        """Refuse up front (403) a request that names a group its key may not use (e.g. in `fallbacks`)."""
        for g in groups:
            if not self._allowed(g):
                raise not_allowed(self.admission, g, param)

    async def before_attempt(self, group: str, deployments: list[Deployment], deployment: Deployment) -> None:
        if not self._allowed(group):
            raise not_allowed(self.admission, group)
        if group not in self._covered:
            await self.gate.extend(self.admission, group, deployments)
            self._covered.add(group)
        await self.gate.mark_started(self.admission)
