"""``/metrics``: the app's prometheus registry in the text exposition format."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from tierroute.service.deps import State

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
async def metrics(state: State) -> Response:
    """Prometheus scrape endpoint."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
