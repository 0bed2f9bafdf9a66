"""The request log: one row per accepted request, feedback labels, the cost summary.

SQLAlchemy Core on a SQLite file by default or PostgreSQL by URL. ``LogWriter`` (writer.py) is
the only code that writes; ``queries`` only reads.
"""

from __future__ import annotations

from tierroute.store.engine import normalize_url, open_engine
from tierroute.store.queries import cost_summary, get_feedback, get_requests, request_exists
from tierroute.store.records import (
    CANARY,
    CHAMPION,
    FeedbackRecord,
    RequestRecord,
    user_key_hash,
    utcnow,
)
from tierroute.store.writer import LogWriter

__all__ = [
    "CANARY",
    "CHAMPION",
    "FeedbackRecord",
    "LogWriter",
    "RequestRecord",
    "cost_summary",
    "get_feedback",
    "get_requests",
    "normalize_url",
    "open_engine",
    "request_exists",
    "user_key_hash",
    "utcnow",
]
