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
