"""Exceptions raised by tierroute. Third-party errors are wrapped where they enter.

The tree::

    TierrouteError
    ├── ConfigError                 bad configuration file or setting (names the key)
    ├── DataError                   unreadable or invalid labeled data
    │   └── ValidationFailed        one or more bad rows; carries every RowIssue
    ├── ModelError
    │   ├── ModelNotFound           no artifact at the path / no champion yet
    │   ├── IntegrityError          artifact sha256 differs from its model card
    │   └── VersionMismatch         artifact built with other library versions
    └── GatewayError                serving and upstream dispatch; carries error_type,
        │                           code, param and the upstream attempts made so far
        ├── InvalidRequest          400: the client's request cannot be served as sent
        │   ├── SchemaViolation     422: well-formed JSON of the wrong shape (names the field)
        │   └── RequestNotFound     404: feedback for a request id the log does not hold
        ├── AuthenticationFailed    401: missing or wrong gateway key
        ├── PermissionDenied        403: a key that may not use this endpoint (admin endpoints)
        ├── UnknownModel            404: a model name that is not configured (lists valid ones)
        ├── RequestTooLarge         413: body over the configured limit
        ├── UpstreamRejected        a provider's 4xx that the next model would not fix (the client's
        │                           own request), or the last of a chain of rejections; keeps the
        │                           provider's code and param (401/402/403 -> 502: our provider
        │                           key or credit, not the client's)
        ├── ProviderKeyMissing      503: the provider key's environment variable is not set
        ├── ChainRateLimited        429 + Retry-After: every model was rate-limited or open
        ├── DeadlineExceeded        504: the request's deadline passed before an answer
        ├── ChainExhausted          503: every model of the chain failed
        ├── LogUnavailable          503: the request log cannot be read or written right now
        └── ReloadFailed            500: a model reload failed; the service keeps the old model

The statuses above are what the HTTP edge answers: the exceptions carry none, nor the OpenAI error
JSON's type and code. The CLI maps these to exit codes (exit_codes.exit_code_for), the service to
HTTP status, error type, code and headers (service.errors.HTTP_ERRORS), each in one place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tierroute.gateway.attempt import Attempt


class TierrouteError(Exception):
    """Base of every error tierroute raises on purpose."""


class ConfigError(TierrouteError):
    """Configuration that cannot be used; the message names the offending key."""


class DataError(TierrouteError):
    """Labeled data that cannot be read."""


@dataclass(frozen=True)
class RowIssue:
    """One problem with one input row: where it is and what is wrong."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ValidationFailed(DataError):
    """Rows failed validation; ``issues`` lists every one of them."""

    def __init__(self, issues: list[RowIssue]) -> None:
        self.issues = issues
        shown = "\n".join(f"  {issue}" for issue in issues[:20])
        more = f"\n  ... and {len(issues) - 20} more" if len(issues) > 20 else ""
        super().__init__(f"{len(issues)} invalid row(s):\n{shown}{more}")


class ModelError(TierrouteError):
    """A model artifact that cannot be loaded or used."""


class ModelNotFound(ModelError):
    """No model artifact where one was expected."""


class IntegrityError(ModelError):
    """The artifact's sha256 does not match its model card: refuse to unpickle it."""


class VersionMismatch(ModelError):
    """The artifact was built with library versions other than the installed ones."""


class GatewayError(TierrouteError):
    """Base for errors while serving or dispatching requests (see tierroute.gateway).

    ``param`` names the request field at fault, if any; ``attempts`` lists the upstream tries
    made before the error (``tierroute.gateway.attempt.Attempt``), for the request log. The
    OpenAI error JSON's ``type`` and ``code`` are the HTTP edge's (``service.errors``).
    Messages never contain provider keys.
    """

    def __init__(
        self, message: str, *, attempts: Sequence[Attempt] = (), param: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attempts: list[Attempt] = list(attempts)
        self.param = param


class InvalidRequest(GatewayError):
    """The client's request cannot be served as sent (400)."""


class SchemaViolation(InvalidRequest):
    """Well-formed JSON whose fields have the wrong type or shape (422); ``param`` names the field."""


class RequestNotFound(InvalidRequest):
    """A request id that is not in the request log (404), e.g. in feedback."""


class AuthenticationFailed(GatewayError):
    """Missing or wrong gateway API key (401)."""


class PermissionDenied(GatewayError):
    """A key that may not use this endpoint, e.g. a gateway key on an admin endpoint (403)."""


class LogUnavailable(GatewayError):
    """The request-log database is unreachable (503); the message names no SQL or values."""

    def __init__(self, cause: BaseException | None = None) -> None:
        detail = f" ({type(cause).__name__})" if cause is not None else ""
        super().__init__(f"The request log is unavailable right now{detail}; try again.")


class UnknownModel(GatewayError):
    """A model name that is not configured (404); the message lists the valid ones."""

    def __init__(
        self, model: str, valid: Sequence[str], *, attempts: Sequence[Attempt] = ()
    ) -> None:
        self.model = model
        self.valid = list(valid)
        super().__init__(
            f"The model {model!r} does not exist here; valid models: {', '.join(self.valid)}",
            attempts=attempts,
            param="model",
        )


class RequestTooLarge(GatewayError):
    """Request body over the configured size limit (413)."""


class UpstreamRejected(GatewayError):
    """A provider's 4xx, kept with the provider's status, message, ``code`` and ``param``.

    401/403 (key rejected) and 402 (no credit) are the gateway's problem, not the client's (the
    HTTP edge answers them with 502). Other statuses are the client's own request (404: the
    provider does not know the model; 400: e.g. ``context_length_exceeded``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        provider: str,
        *,
        attempts: Sequence[Attempt] = (),
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        self.upstream_status = status
        self.provider = provider
        self.provider_message = message
        self.provider_code = code
        if status in (401, 403):
            text = f"the provider key for provider {provider!r} was rejected (HTTP {status})"
        elif status == 402:
            text = f"provider {provider!r} refused for lack of credit (HTTP 402)"
        elif status == 404:
            text = f"provider {provider!r} does not know the model (HTTP 404)"
        else:
            text = f"provider {provider!r} rejected the request (HTTP {status})"
        super().__init__(f"{text}: {message}" if message else text, attempts=attempts, param=param)


class ProviderKeyMissing(GatewayError):
    """The environment variable holding a provider's key is not set (503).

    The message names the providers; the variables are named in the server's log only.
    """

    def __init__(
        self,
        env_vars: Sequence[str],
        *,
        providers: Sequence[str] = (),
        attempts: Sequence[Attempt] = (),
    ) -> None:
        self.env_vars = list(dict.fromkeys(env_vars))
        self.providers = list(dict.fromkeys(providers))
        names = ", ".join(repr(p) for p in self.providers) or "this model"
        super().__init__(
            f"no provider key is configured for provider {names}; the gateway's log says which",
            attempts=attempts,
        )


class ChainRateLimited(GatewayError):
    """Every model of the chain was rate-limited (here or upstream) or had its circuit open (429).

    ``retry_after`` (whole seconds, at least 1) goes out as the Retry-After header.
    """

    def __init__(self, attempts: Sequence[Attempt], retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))  # whole seconds, for Retry-After
        tried = "; ".join(f"{a.model}: {a.outcome}" for a in attempts)
        super().__init__(
            f"every model is at its rate limit or resting; retry in {self.retry_after}s "
            f"(tried {tried})",
            attempts=attempts,
        )


class DeadlineExceeded(GatewayError):
    """The request's deadline passed before any model answered (504)."""

    def __init__(self, deadline: float, attempts: Sequence[Attempt]) -> None:
        self.deadline = deadline
        super().__init__(
            f"no answer within the request deadline of {deadline:g}s", attempts=attempts
        )


class ChainExhausted(GatewayError):
    """Every model of the chain failed (503); the message lists each model's outcome."""

    def __init__(self, attempts: Sequence[Attempt]) -> None:
        tried = "; ".join(f"{a.model}: {a.outcome} ({a.detail})" for a in attempts)
        super().__init__(f"no upstream model could answer; tried {tried}", attempts=attempts)


class ReloadFailed(GatewayError):
    """Loading the new champion (or challenger) failed; the old one keeps serving (500)."""
