"""``GET /v1/stats/cost?hours=N``: requests, tokens and cost by model and tier, from the log."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from tierroute.service.deps import State, require_api_key
from tierroute.store import cost_summary

router = APIRouter(tags=["stats"], dependencies=[Depends(require_api_key)])


@router.get("/v1/stats/cost")
async def cost(
    state: State,
    hours: Annotated[float, Query(gt=0, le=24 * 366, description="Window, in hours.")] = 24.0,
) -> dict[str, Any]:
    """The write-up's cost summary over the last ``hours``, including requests just served."""
    await asyncio.wrap_future(state.writer.flush())
    return await run_in_threadpool(cost_summary, state.engine, hours)
