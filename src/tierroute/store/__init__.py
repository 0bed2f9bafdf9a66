"""The request log: one row per accepted request, feedback labels, the cost summary.

SQLAlchemy Core on a SQLite file by default or PostgreSQL by URL. ``LogWriter`` (writer.py) is
the only code that writes; ``queries`` only reads.
"""

from __future__ import annotations

from tierroute.store.engine import default_spool_dir, normalize_url, open_engine
from tierroute.store.keys import KeyHasher, key_hasher
from tierroute.store.queries import (
    ALL_KEYS,
    Owner,
    cost_summary,
    get_feedback,
    get_requests,
    request_exists,
)
from tierroute.store.records import (
    CANARY,
    CHAMPION,
    FeedbackRecord,
    RequestRecord,
    utcnow,
)
from tierroute.store.writer import LogWriter

__all__ = [
    "ALL_KEYS",
    "CANARY",
    "CHAMPION",
    "FeedbackRecord",
    "KeyHasher",
    "LogWriter",
    "Owner",
    "RequestRecord",
    "cost_summary",
    "default_spool_dir",
    "get_feedback",
    "get_requests",
    "key_hasher",
    "normalize_url",
    "open_engine",
    "request_exists",
    "utcnow",
]
