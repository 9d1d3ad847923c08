"""GET /metrics: Prometheus exposition of the facade merged with the router's and budget's."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gemgate import metrics

router = APIRouter()


@router.get("/metrics")
async def prometheus(request: Request) -> Response:
    state = request.app.state
    body = await metrics.merged_metrics(state.http, list(state.settings.metrics_urls), timeout=1.0)
    return Response(body, media_type=metrics.CONTENT_TYPE)
