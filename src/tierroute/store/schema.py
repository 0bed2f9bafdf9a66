"""The request-log schema (SQLAlchemy Core): ``requests`` and ``feedback``.

Timestamps are naive UTC on every backend. Columns for the learning loop are here from the
start so that exports, shadow and canary analysis need no migration: ``user_key`` (hash of the
client's user field or API key), ``route_side`` ("champion" or "canary") and the challenger's
``challenger_tier`` / ``challenger_model_id`` (NULL when no challenger ran).

Tenancy: ``request_id`` is the gateway's own unguessable id; a client's ``x-request-id`` is kept
apart in ``client_request_id``; ``api_key_hash`` (keyed hash of the gateway key that made the
request) scopes feedback and cost statistics to that key. Columns added after a log was created
are added at start-up (``store.migrate``): new columns must be nullable or carry a default.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

requests = Table(
    "requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("endpoint", String(16), nullable=False),
    Column("requested_model", String(200)),
    Column("tier", String(64)),
    Column("confidence", Float),
    Column("fallback", Boolean),
    Column("model_id", String(128)),
    Column("model", String(200)),
    Column("stream", Boolean, nullable=False, default=False),
    Column("status", Integer, nullable=False),
    Column("attempt_count", Integer, nullable=False, default=0),
    Column("attempts", JSON, nullable=False),
    Column("error", Text),
    Column("latency_ms", Float),
    Column("upstream_ms", Float),
    Column("classify_ms", Float),
    Column("overhead_ms", Float),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("cost_usd", Float, nullable=False, default=0.0),
    Column("cost_estimated", Boolean),  # tokens estimated: the provider reported no usage
    Column("text", Text),
    Column("user_key", String(64)),
    Column("route_side", String(16), nullable=False, default="champion"),
    Column("challenger_tier", String(64)),
    Column("challenger_model_id", String(128)),
    Column("client_request_id", String(128)),
    Column("api_key_hash", String(64)),
    Index("ix_requests_request_id", "request_id"),
    Index("ix_requests_created_at", "created_at"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128)),
    Column("text", Text),
    Column("tier", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("user_key", String(64)),
    Column("created_at", DateTime(), nullable=False),
    Index("ix_feedback_request_id", "request_id"),
    Index("ix_feedback_created_at", "created_at"),
)
