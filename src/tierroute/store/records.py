"""Value objects written to the request log: one ``RequestRecord`` per accepted request."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class RouteSide(StrEnum):
    """Which classifier routed a request: the champion, or a canary challenger."""

    CHAMPION = "champion"
    CANARY = "canary"


def utcnow() -> datetime:
    """Naive UTC now: the log stores naive UTC timestamps on every backend alike."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(slots=True)
class RequestRecord:
    """One accepted request: the routing decision, the dispatch outcome, latency, tokens, cost.

    ``endpoint`` is ``"chat"`` or ``"classify"``. ``model_id`` is the classifier version that made
    the decision; ``model`` is the upstream ``provider:model`` that answered (None when none did).
    ``text`` is the redacted query text, or None when the config says not to store text.
    ``route_side`` tells which classifier routed the request (``"champion"`` or ``"canary"``);
    ``challenger_*`` hold a shadow or canary challenger's decision when one ran.
    ``request_id`` is the gateway's unguessable id; ``client_request_id`` the client's own
    ``x-request-id`` (kept apart, never trusted as a key); ``api_key_hash`` the keyed hash of
    the gateway key that made the request (scopes feedback and stats), ``user_key`` that of the
    client's ``user`` field or else its key (canary stickiness); both from ``KeyHasher``.
    """

    request_id: str
    endpoint: str
    status: int
    created_at: datetime = field(default_factory=utcnow)
    requested_model: str | None = None
    tier: str | None = None
    confidence: float | None = None
    fallback: bool | None = None
    model_id: str | None = None
    model: str | None = None
    stream: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    latency_ms: float | None = None
    upstream_ms: float | None = None
    classify_ms: float | None = None
    overhead_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    # True: the provider reported no usage (stream cut, client gone, none sent), tokens estimated.
    cost_estimated: bool | None = None
    text: str | None = None
    user_key: str | None = None
    route_side: str = RouteSide.CHAMPION
    challenger_tier: str | None = None
    challenger_model_id: str | None = None
    client_request_id: str | None = None
    api_key_hash: str | None = None

    def row(self) -> dict[str, Any]:
        """Column values for the ``requests`` table (shallow: asdict's deep copy costs 40 µs)."""
        values = {name: getattr(self, name) for name in REQUEST_FIELDS}
        values["attempt_count"] = len(self.attempts)
        return values


REQUEST_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RequestRecord))
REQUEST_COLUMNS: tuple[str, ...] = (*REQUEST_FIELDS, "attempt_count")
"""The ``requests`` columns a ``RequestRecord.row()`` fills (all but the generated id)."""


@dataclass(slots=True)
class FeedbackRecord:
    """A corrected tier label for a logged request (or for a bare text, from bulk imports)."""

    tier: str
    request_id: str | None = None
    text: str | None = None
    source: str = "api"
    user_key: str | None = None
    created_at: datetime = field(default_factory=utcnow)

    def row(self) -> dict[str, Any]:
        """Column values for the ``feedback`` table."""
        return asdict(self)
