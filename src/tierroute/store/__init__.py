"""The request log: one row per accepted request, feedback labels, the cost summary.

SQLAlchemy Core on a SQLite file by default or PostgreSQL by URL. ``LogWriter`` (writer.py) is
the only code that writes on the request path: it queues rows for a thread that stores them
through ``durable``, where rows are cleaned (sanitize), stored in batches that fall back to row
by row (persist), kept in a durable spool while the database is away and replayed later (spool,
replay), or set aside in a dead-letter file (keep). ``queries`` only
reads, scoped to one gateway key (``Owner``); ``keys`` hashes keys with the log secret;
``migrate`` adds the columns an older log lacks at start-up.
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
    FeedbackRecord,
    RequestRecord,
    RouteSide,
    utcnow,
)
from tierroute.store.writer import LogWriter

__all__ = [
    "ALL_KEYS",
    "FeedbackRecord",
    "KeyHasher",
    "LogWriter",
    "Owner",
    "RequestRecord",
    "RouteSide",
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
