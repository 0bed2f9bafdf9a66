"""One try against one upstream model, as recorded in errors, results and the request log."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Outcomes an Attempt can have; the request log and the metrics use these strings.
OK = "ok"
HTTP_429 = "http_429"
HTTP_5XX = "http_5xx"
HTTP_4XX = "http_4xx"
CONNECT_ERROR = "connect_error"
TIMEOUT = "timeout"
MALFORMED = "malformed"
RATE_LIMITED = "rate_limited"
CIRCUIT_OPEN = "circuit_open"
KEY_MISSING = "key_missing"
STREAM_ERROR = "stream_error"
CANCELLED = "cancelled"
# Provider 4xx that the next model may not have (failover, counted as the model's failure).
AUTH_ERROR = "auth_error"  # 401/403: our key for that provider was rejected or revoked
NO_CREDIT = "no_credit"  # 402
MODEL_NOT_FOUND = "model_not_found"  # 404
# 400 context_length_exceeded and the like: the next model may have a longer context; says
# nothing about the model's health.
CONTEXT_TOO_LONG = "context_too_long"
ERROR_EVENT = "error_event"  # a stream's in-band {"error": ...} before any content
DEADLINE = "deadline"  # the request's deadline passed during this attempt


@dataclass(slots=True)
class Attempt:
    """One try against one model; ``detail`` is a short reason that never contains keys."""

    model: str
    outcome: str
    status: int | None
    latency_ms: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (request log, error bodies)."""
        return asdict(self)
