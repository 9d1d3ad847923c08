"""general_settings.max_parallel_requests / litellm_params.max_parallel_requests: the most requests
one deployment serves at once, per router process. The check and the increment happen with no await
in between, so concurrent requests can never overshoot the limit in this process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gemgate.errors import ErrorKind, GatewayError
from router_service.routing.strategies import dep_id

if TYPE_CHECKING:
    from gemgate.config import Deployment, GatewayConfig


class ParallelLimits:
    def __init__(self, config: GatewayConfig) -> None:
        self.default = config.general_settings.max_parallel_requests
        self.active: dict[str, int] = {}

    def limit(self, dep: Deployment) -> int | None:
        return dep.litellm_params.max_parallel_requests or self.default

    def has_room(self, dep: Deployment) -> bool:
        limit = self.limit(dep)
        return limit is None or self.active.get(dep_id(dep), 0) < limit

    def acquire(self, dep: Deployment) -> bool:
        """Take a slot (True), or raise RATE_LIMIT when the deployment is full. False: no limit."""
        limit = self.limit(dep)
        if limit is None:
            return False
        i = dep_id(dep)
        if self.active.get(i, 0) >= limit:
            raise GatewayError(ErrorKind.RATE_LIMIT,
                               f"deployment {i} is at max_parallel_requests ({limit})", retry_after=1.0)
        self.active[i] = self.active.get(i, 0) + 1
        return True

    def release(self, dep: Deployment) -> None:
        i = dep_id(dep)
        n = self.active.get(i, 0) - 1
        if n > 0:
            self.active[i] = n
        else:
            self.active.pop(i, None)
