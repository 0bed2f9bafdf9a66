"""Dependencies as ``Annotated`` aliases: the service state, its parts, and the API-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from tierroute.exceptions import AuthenticationFailed
from tierroute.service.state import ServiceState


def get_state(request: Request) -> ServiceState:
    """The state built by the lifespan."""
    state: ServiceState | None = getattr(request.app.state, "tierroute", None)
    if state is None:
        raise HTTPException(503, "The service is starting or stopping.")
    return state


State = Annotated[ServiceState, Depends(get_state)]


def require_api_key(request: Request, state: State) -> str | None:
    """The caller's gateway key, checked when keys are configured (401 otherwise); None if open."""
    keys = state.config.api_keys
    if not keys:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("Missing gateway API key: send 'Authorization: Bearer <key>'.")
    presented = token.encode("utf-8")
    # Compare against every key without stopping early, so timing tells nothing.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, key.encode("utf-8"))
    if not matched:
        raise AuthenticationFailed("Incorrect gateway API key.")
    return token


ApiKey = Annotated[str | None, Depends(require_api_key)]
