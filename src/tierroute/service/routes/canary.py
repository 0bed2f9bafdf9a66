"""``GET /health/canary``: the challenger's roll-out state (the write-up's fields and rollback).

``current_weight``, ``total_requests``, ``canary_requests``, ``canary_percentage``,
``canary_error_rate``, ``baseline_error_rate`` as in the write-up's controller, plus fallback
rates, the window, the ramp and the rollback state with its reason. Without a canary (no
challenger, or shadow only) the weight is 0 and the counts are 0.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tierroute.service.deps import State
from tierroute.service.reload import rollout_mode

router = APIRouter(tags=["health"])

_IDLE: dict[str, Any] = {
    "current_weight": 0.0,
    "total_requests": 0,
    "canary_requests": 0,
    "canary_percentage": 0.0,
    "canary_error_rate": None,
    "baseline_error_rate": None,
    "rolled_back": False,
    "rollback_reason": None,
}


@router.get("/health/canary")
async def canary(state: State) -> dict[str, Any]:
    """Roll-out state of the challenger, if any."""
    rollout = state.rollout
    body: dict[str, Any] = {
        "mode": rollout_mode(rollout),
        "champion_model_id": state.router.model_id,
        "challenger_model_id": rollout.model_id if rollout else None,
    }
    if rollout is not None and rollout.canary is not None:
        body.update(rollout.canary.status().to_dict())
    else:
        body.update(_IDLE)
    reloader = state.reloader
    body["reloads"] = reloader.reloads if reloader else 0
    body["last_reload_error"] = reloader.last_error if reloader else None
    return body
