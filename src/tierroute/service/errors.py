"""Our exceptions to OpenAI-style error JSON and HTTP status, in one place.

Every error the service returns has the shape ``{"error": {"message", "type", "param",
"code"}}``. A ``GatewayError``'s HTTP status, type and code are mapped here (``HTTP_ERRORS``,
``http_error``), as the CLI maps exit codes; FastAPI's validation errors become 422 (400 when
the body is not JSON at all); Starlette's 404/405 keep their status; anything unexpected is a
500 whose message reveals nothing internal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from tierroute.exceptions import (
    AuthenticationFailed,
    ChainExhausted,
    ChainRateLimited,
    DeadlineExceeded,
    GatewayError,
    InvalidRequest,
    LogUnavailable,
    ModelError,
    PermissionDenied,
    ProviderKeyMissing,
    ReloadFailed,
    RequestNotFound,
    RequestTooLarge,
    SchemaViolation,
    TierrouteError,
    UnknownModel,
    UpstreamRejected,
)

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"


@dataclass(frozen=True, slots=True)
class HttpError:
    """How the service answers one of our errors: HTTP status, OpenAI error type and code."""

    status: int
    type: str
    code: str | None


_API = "api_error"
_INVALID = "invalid_request_error"

# The answer to each of our errors; a subclass not listed answers as its nearest parent.
HTTP_ERRORS: dict[type[GatewayError], HttpError] = {
    GatewayError: HttpError(500, _API, "gateway_error"),
    InvalidRequest: HttpError(400, _INVALID, "invalid_request"),
    SchemaViolation: HttpError(422, _INVALID, "invalid_schema"),
    RequestNotFound: HttpError(404, _INVALID, "request_not_found"),
    AuthenticationFailed: HttpError(401, "authentication_error", "invalid_api_key"),
    PermissionDenied: HttpError(403, "permission_error", "permission_denied"),
    UnknownModel: HttpError(404, _INVALID, "model_not_found"),
    RequestTooLarge: HttpError(413, _INVALID, "request_too_large"),
    ProviderKeyMissing: HttpError(503, _API, "provider_key_missing"),
    ChainRateLimited: HttpError(429, "rate_limit_error", "rate_limit_exceeded"),
    DeadlineExceeded: HttpError(504, _API, "deadline_exceeded"),
    ChainExhausted: HttpError(503, _API, "upstream_unavailable"),
    LogUnavailable: HttpError(503, _API, "log_unavailable"),
    ReloadFailed: HttpError(500, _API, "reload_failed"),
}


def _upstream_rejection(exc: UpstreamRejected) -> HttpError:
    # A provider refusing our key (401/403) or our credit (402) is the gateway's failure, not
    # the client's: a bad gateway. Other provider 4xx keep their status and the provider's code
    # (the client's own request).
    status, code = exc.upstream_status, exc.provider_code
    if status in (401, 403):
        return HttpError(502, _API, "provider_key_rejected")
    if status == 402:
        return HttpError(502, _API, code or "provider_out_of_credit")
    if status == 404:
        return HttpError(404, _INVALID, code or "model_not_found")
    return HttpError(status, _INVALID, code or "upstream_rejected")


def http_error(exc: GatewayError) -> HttpError:
    """The HTTP status, error type and code the service answers ``exc`` with."""
    if isinstance(exc, UpstreamRejected):
        return _upstream_rejection(exc)
    for cls in type(exc).__mro__:
        if cls in HTTP_ERRORS:
            return HTTP_ERRORS[cls]
    return HTTP_ERRORS[GatewayError]


def http_status(exc: GatewayError) -> int:
    """The HTTP status the service answers ``exc`` with."""
    return http_error(exc).status


def http_headers(exc: GatewayError) -> dict[str, str]:
    """Extra response headers for ``exc`` (Retry-After when every model is resting)."""
    if isinstance(exc, ChainRateLimited):
        return {"Retry-After": str(exc.retry_after)}
    return {}


def error_json(
    message: str, error_type: str, *, param: str | None = None, code: str | None = None
) -> bytes:
    """The OpenAI error body."""
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def error_response(
    status: int,
    message: str,
    error_type: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An OpenAI-style JSON error response."""
    return Response(
        error_json(message, error_type, param=param, code=code),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def gateway_error_response(exc: GatewayError, headers: Mapping[str, str] | None = None) -> Response:
    """The response for one of our gateway errors (status, type, code, headers from the exception)."""
    extra = http_headers(exc)
    if extra:
        headers = {**(headers or {}), **extra}
    answer = http_error(exc)
    return error_response(
        answer.status, exc.message, answer.type, param=exc.param, code=answer.code, headers=headers
    )


def _request_id_headers(request: Request) -> dict[str, str]:
    request_id = getattr(request.state, "request_id", None)
    return {REQUEST_ID_HEADER: request_id} if request_id else {}


async def _on_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return gateway_error_response(exc, _request_id_headers(request))


async def _on_model_error(request: Request, exc: Exception) -> Response:
    logger.error("model error while serving: %s", exc)
    return error_response(
        503, str(exc), "api_error", code="model_unavailable", headers=_request_id_headers(request)
    )


async def _on_tierroute_error(request: Request, exc: Exception) -> Response:
    logger.error("error while serving: %s", exc)
    return error_response(
        500, str(exc), "api_error", code="internal_error", headers=_request_id_headers(request)
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    if first.get("type") == "json_invalid":
        return error_response(
            400,
            "The request body is not valid JSON.",
            "invalid_request_error",
            code="invalid_json",
            headers=_request_id_headers(request),
        )
    param = ".".join(loc) or None
    message = f"{param}: {first.get('msg', 'invalid')}" if param else str(first.get("msg", ""))
    return error_response(
        422,
        message,
        "invalid_request_error",
        param=param,
        code="invalid_schema",
        headers=_request_id_headers(request),
    )


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error_type = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    headers = {**_request_id_headers(request), **(exc.headers or {})}
    code = f"http_{exc.status_code}"
    return error_response(exc.status_code, str(exc.detail), error_type, code=code, headers=headers)


async def _on_client_disconnect(request: Request, exc: Exception) -> Response:
    # The client left while sending its body: nothing was accepted, nobody reads the answer.
    logger.debug("client disconnected before its request body was complete")
    return Response(status_code=499)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        500,
        "The gateway failed unexpectedly; the error was logged.",
        "api_error",
        code="internal_error",
        headers=_request_id_headers(request),
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register every exception-to-response mapping on ``app``."""
    app.add_exception_handler(GatewayError, _on_gateway_error)
    app.add_exception_handler(ModelError, _on_model_error)
    app.add_exception_handler(TierrouteError, _on_tierroute_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(ClientDisconnect, _on_client_disconnect)
    app.add_exception_handler(Exception, _on_unexpected)
