"""``POST /admin/reload``: load the current champion (and challenger) and swap it in.

Bearer ``TIERROUTE_ADMIN_KEY`` only (a gateway key gets 403). SIGHUP does the same reload.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tierroute.service.deps import AdminKey, State

router = APIRouter(tags=["admin"])


@router.post("/admin/reload")
async def reload(state: State, _admin: AdminKey) -> dict[str, Any]:
    """The new model ids; on failure a 500 ``reload_failed`` error, the old model serving on."""
    assert state.reloader is not None  # the lifespan sets it with the state
    result = await state.reloader.reload(state, "admin")
    return {"status": "reloaded", **result.to_dict()}
