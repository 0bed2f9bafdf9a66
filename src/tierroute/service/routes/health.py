"""``/healthz`` (the process answers) and ``/readyz`` (model loaded, config valid, log writing)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves HTTP."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the lifespan finished (model loaded, config validated, log writer running)."""
    state = getattr(request.app.state, "tierroute", None)
    if state is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    body: dict[str, Any] = {
        "status": "ready",
        "model_id": state.router.model_id,
        "tiers": list(state.router.model.tiers),
        "threshold": state.router.model.threshold,
        "default_tier": state.router.model.default_tier,
        "models": state.router.model_names,
        # Provider names, not the variables' names: /readyz needs no key. The keys the
        # dispatcher read at start, not the environment now: a key set later is not used
        # until a restart, so it must not make the gateway look ready for it.
        "providers_without_key": state.dispatcher.providers_without_key(),
        "log_backlog": state.writer.backlog,
        # Still ready while Redis is out: limits and breakers fall back to the process's own.
        "state_backend": "redis" if state.dispatcher.state_backend.shared else "memory",
        "state_degraded": state.dispatcher.state_backend.degraded,
        "uptime_s": round(time.time() - state.started_at, 3),
    }
    return JSONResponse(body)
