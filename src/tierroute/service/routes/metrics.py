"""``/metrics``: the app's prometheus registry in the text exposition format.

Who may read it is ``server.metrics`` (it shows spend per model): ``auto`` (default) asks for
the admin key when gateway keys are set and is open otherwise (a keyless gateway is served on
loopback only, or with ``--allow-open``); ``admin`` always asks for ``TIERROUTE_ADMIN_KEY``;
``loopback`` serves loopback clients only; ``open`` serves anyone; ``off`` answers 404.
"""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tierroute.exceptions import PermissionDenied
from tierroute.service.deps import State, check_admin_key
from tierroute.service.state import ServiceState

router = APIRouter(tags=["metrics"])


def _loopback_client(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_metrics_access(request: Request, state: ServiceState) -> None:
    """Raise unless ``server.metrics`` lets this caller read the metrics."""
    mode = state.config.server.metrics
    if mode == "off":
        raise HTTPException(404, "Not Found")
    if mode == "open" or (mode == "auto" and not state.config.api_keys):
        return
    if mode == "loopback":
        if not _loopback_client(request):
            raise PermissionDenied("/metrics is served to loopback clients only.")
        return
    if not state.config.admin_key:
        raise PermissionDenied(
            "/metrics needs the admin key: set TIERROUTE_ADMIN_KEY, or server.metrics "
            "('loopback', 'open', 'off') in the config."
        )
    check_admin_key(request, state)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, state: State) -> Response:
    """Prometheus scrape endpoint (access: ``server.metrics``)."""
    check_metrics_access(request, state)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
