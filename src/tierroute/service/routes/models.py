"""``GET /v1/models``: ``auto`` and every configured concrete model, as OpenAI clients expect."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from tierroute.service.deps import State, require_api_key
from tierroute.service.routing import AUTO

router = APIRouter(tags=["models"], dependencies=[Depends(require_api_key)])


@router.get("/v1/models")
async def list_models(state: State) -> dict[str, Any]:
    """The model list; ``auto`` routes by the classifier, the others pass through."""
    created = int(state.started_at)
    data = [{"id": AUTO, "object": "model", "created": created, "owned_by": "tierroute"}]
    for ref in state.router.model_names:
        provider = ref.partition(":")[0]
        data.append({"id": ref, "object": "model", "created": created, "owned_by": provider})
    return {"object": "list", "data": data}
