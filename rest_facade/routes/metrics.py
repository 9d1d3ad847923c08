"""GET /metrics: Prometheus exposition of the facade merged with the router's and budget's.

Not public: the caller needs `Authorization: Bearer <master_key>` or `Bearer <metrics token>`
(general_settings.metrics_token or env GEMGATE_METRICS_TOKEN). A gateway with neither configured
(no authentication at all, which is only allowed on loopback or with the explicit dangerous switch)
serves /metrics to loopback clients only.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gemgate import metrics
from gemgate.errors import ErrorKind, GatewayError
from rest_facade.auth import caller_key

METRICS_TOKEN_ENV = "GEMGATE_METRICS_TOKEN"

router = APIRouter()


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_access(request: Request) -> None:
    settings = request.app.state.settings
    allowed = [s for s in (settings.master_key, settings.metrics_token) if s]
    if not allowed:
        if _loopback(request.client.host if request.client else None):
            return
        raise GatewayError(ErrorKind.AUTHENTICATION,
                           "/metrics needs a credential: configure general_settings.master_key or metrics_token "
                           f"(or {METRICS_TOKEN_ENV}); without either it is served to loopback clients only.",
                           code="metrics_auth_required")
    given = caller_key(request)
    if not given:
        raise GatewayError(ErrorKind.AUTHENTICATION,
                           "/metrics needs 'Authorization: Bearer <master key or metrics token>'.",
                           code="missing_api_key")
    if not any(hmac.compare_digest(given.encode(), s.encode()) for s in allowed):
        raise GatewayError(ErrorKind.AUTHENTICATION, "Invalid credential for /metrics.", code="invalid_api_key")


@router.get("/metrics")
async def prometheus(request: Request) -> Response:
    check_access(request)
    state = request.app.state
    body = await metrics.merged_metrics(list(state.settings.metrics_urls), timeout=1.0,
                                        secret=state.settings.internal_secret)
    return Response(body, media_type=metrics.CONTENT_TYPE)
