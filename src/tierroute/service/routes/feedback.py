"""``POST /v1/feedback {request_id, tier}``: a corrected tier label, stored for retraining.

A key may label only the requests it made (the admin key any): another key's request id gets
the same 404 as an unknown one, so ids can be neither probed nor labeled across keys.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from tierroute.exceptions import LogUnavailable, RequestNotFound, SchemaViolation
from tierroute.service.deps import LogScope, State
from tierroute.service.parsing import read_json_object
from tierroute.store import FeedbackRecord, request_exists

router = APIRouter(tags=["feedback"])


class FeedbackIn(BaseModel):
    """A corrected label for a logged request."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=128)
    tier: str = Field(min_length=1)


@router.post("/v1/feedback")
async def feedback(request: Request, state: State, scope: LogScope) -> dict[str, Any]:
    """Store the label once the request is known to the log."""
    body = await read_json_object(request, state.max_body_bytes)
    try:
        item = FeedbackIn.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise SchemaViolation(f"{param}: {first['msg']}", param=param) from None
    tiers = state.router.model.tiers
    if item.tier not in tiers:
        raise SchemaViolation(f"tier: {item.tier!r} is not one of {', '.join(tiers)}", param="tier")
    # The request's own row may still be queued: write everything before looking it up.
    await asyncio.wrap_future(state.writer.flush())
    try:
        found = await run_in_threadpool(request_exists, state.engine, item.request_id, owner=scope)
    except SQLAlchemyError as exc:
        raise LogUnavailable(exc) from None
    if not found:
        raise RequestNotFound(
            f"request_id: no logged request {item.request_id!r}", param="request_id"
        )
    record = FeedbackRecord(
        tier=item.tier,
        request_id=item.request_id,
        source="api",
        user_key=scope if isinstance(scope, str) else None,
    )
    await asyncio.wrap_future(state.writer.add_feedback(record))
    return {"request_id": item.request_id, "tier": item.tier, "stored": True}
