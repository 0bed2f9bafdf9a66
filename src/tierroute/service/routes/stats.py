"""``GET /v1/stats/cost?hours=N``: requests, tokens and cost by model and tier, from the log.

Each key sees its own requests; the admin key (``TIERROUTE_ADMIN_KEY``) sees every key's.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from tierroute.exceptions import LogUnavailable
from tierroute.service.deps import LogScope, State
from tierroute.store import cost_summary

router = APIRouter(tags=["stats"])


@router.get("/v1/stats/cost")
async def cost(
    state: State,
    scope: LogScope,
    hours: Annotated[float, Query(gt=0, le=24 * 366, description="Window, in hours.")] = 24.0,
) -> dict[str, Any]:
    """The write-up's cost summary over the last ``hours``, including requests just served."""
    await asyncio.wrap_future(state.writer.flush())
    try:
        return await run_in_threadpool(cost_summary, state.engine, hours, owner=scope)
    except SQLAlchemyError as exc:
        raise LogUnavailable(exc) from None
