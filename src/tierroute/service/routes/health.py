"""``/healthz`` (the process answers) and ``/readyz`` (model loaded, config valid, log writing)."""

from __future__ import annotations

import os
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
    # Provider names, not the variables' names: /readyz needs no key; names stay in the server log.
    missing_keys = sorted(
        name
        for name, provider in state.config.providers.items()
        if provider.api_key_env and not os.environ.get(provider.api_key_env)
    )
    body: dict[str, Any] = {
        "status": "ready",
        "model_id": state.router.model_id,
        "tiers": list(state.router.model.tiers),
        "threshold": state.router.model.threshold,
        "default_tier": state.router.model.default_tier,
        "models": state.router.model_names,
        "providers_without_key": missing_keys,
        "log_backlog": state.writer.backlog,
        "uptime_s": round(time.time() - state.started_at, 3),
    }
    return JSONResponse(body)
