"""Dependencies as ``Annotated`` aliases: the service state and the API-key check.

The two hot routes (chat, classify) call ``service_state`` and ``check_api_key`` directly:
FastAPI's dependency solving costs about 14 % of a chat request's CPU in the gateway benchmark.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from tierroute.exceptions import AuthenticationFailed, PermissionDenied
from tierroute.service.state import ServiceState
from tierroute.store import ALL_KEYS, Owner


def service_state(request: Request) -> ServiceState:
    """The state built by the lifespan; 503 while the app is starting or stopping."""
    state: ServiceState | None = getattr(request.app.state, "tierroute", None)
    if state is None:
        raise HTTPException(503, "The service is starting or stopping.")
    return state


def check_api_key(request: Request, state: ServiceState) -> str | None:
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


async def get_state(request: Request) -> ServiceState:
    """Dependency: the service state (async: a sync dependency would cost a thread hop)."""
    return service_state(request)


State = Annotated[ServiceState, Depends(get_state)]


async def require_api_key(request: Request, state: State) -> str | None:
    """Dependency: the checked gateway key (see ``check_api_key``)."""
    return check_api_key(request, state)


ApiKey = Annotated[str | None, Depends(require_api_key)]


def check_log_scope(request: Request, state: ServiceState) -> Owner:
    """Whose logged requests the caller may read or label: every key's for the admin key,
    else its own gateway key's (401 for a wrong key); None on an open gateway."""
    admin_key = state.config.admin_key
    if admin_key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if (
            scheme.lower() == "bearer"
            and token
            and hmac.compare_digest(token.encode("utf-8"), admin_key.encode("utf-8"))
        ):
            return ALL_KEYS
    api_key = check_api_key(request, state)
    return state.hasher(api_key) if api_key else None


async def require_log_scope(request: Request, state: State) -> Owner:
    """Dependency: the caller's log scope (see ``check_log_scope``)."""
    return check_log_scope(request, state)


LogScope = Annotated[Owner, Depends(require_log_scope)]


def check_admin_key(request: Request, state: ServiceState) -> None:
    """401 without a bearer key, 403 unless it is ``TIERROUTE_ADMIN_KEY`` (or none is set)."""
    admin_key = state.config.admin_key
    if not admin_key:
        raise PermissionDenied(
            "Admin endpoints are disabled: set TIERROUTE_ADMIN_KEY and restart the gateway."
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("Missing admin key: send 'Authorization: Bearer <admin key>'.")
    if not hmac.compare_digest(token.encode("utf-8"), admin_key.encode("utf-8")):
        raise PermissionDenied("This key may not use admin endpoints.")


async def require_admin_key(request: Request, state: State) -> None:
    """Dependency: the admin key check (see ``check_admin_key``)."""
    check_admin_key(request, state)


AdminKey = Annotated[None, Depends(require_admin_key)]
