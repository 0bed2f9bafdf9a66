"""Store a batch of log rows so that one bad row never takes the others with it.

A batch goes in one transaction (fast). When it fails because of a row (a value the database
refuses), every row is tried on its own so that only the bad one is set aside (``refused``).
When it fails because the database is unreachable, it is retried with backoff and then handed
back as ``unwritten`` for the spool. Retries and replays first drop rows whose request id is
already stored: a commit whose acknowledgement was lost in an outage is not written twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from tierroute.store.bulk import BulkInsert
from tierroute.store.records import REQUEST_COLUMNS
from tierroute.store.sanitize import RowSanitizer
from tierroute.store.schema import feedback, requests

_ID_CHUNK = 500


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable (retry later) rather than a bad row."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


@dataclass(slots=True)
class Outcome:
    """What became of a batch: stored, refused for good (bad rows), or not attempted yet."""

    written: int = 0  # rows inserted now (rows found already stored are not counted)
    refused: list[dict[str, Any]] = field(default_factory=list)
    unwritten: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None


class RowStore:
    """Inserts ``requests`` rows (cleaned first) and ``feedback`` rows into ``engine``."""

    def __init__(self, engine: Engine, retry_delays: Sequence[float]) -> None:
        self.engine = engine
        self.retry_delays = tuple(retry_delays)
        self._bulk = BulkInsert(engine, requests, REQUEST_COLUMNS)
        self._clean_request = RowSanitizer(requests)
        self._clean_feedback = RowSanitizer(feedback)

    def probe(self) -> bool:
        """Whether the database answers now."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception:
            return False
        return True

    def store_requests(self, rows: list[dict[str, Any]], *, dedupe: bool = False) -> Outcome:
        """Insert ``rows``: one transaction, else retries, else row by row (see module doc)."""
        if not rows:
            return Outcome()
        rows = [self._clean_request(row) for row in rows]
        inserted, error = self._try(rows, dedupe)
        delays = iter(self.retry_delays)
        while error is not None and is_unavailable(error):
            delay = next(delays, None)
            if delay is None:
                return Outcome(unwritten=rows, error=error)
            time.sleep(delay)
            inserted, error = self._try(rows, dedupe=True)
        if error is None:
            return Outcome(written=inserted)
        return self._one_by_one(rows)

    def _one_by_one(self, rows: list[dict[str, Any]]) -> Outcome:
        outcome = Outcome()
        for index, row in enumerate(rows):
            inserted, error = self._try([row], dedupe=True)
            if error is None:
                outcome.written += inserted
            elif is_unavailable(error):
                outcome.unwritten = rows[index:]
                outcome.error = error
                break
            else:
                outcome.refused.append(row)
                outcome.error = error
        return outcome

    def _try(self, rows: list[dict[str, Any]], dedupe: bool) -> tuple[int, BaseException | None]:
        """Rows inserted and None, or 0 and the error (the transaction rolled back)."""
        try:
            with self.engine.begin() as conn:
                if dedupe:
                    stored = _stored_ids(conn, [row["request_id"] for row in rows])
                    rows = [row for row in rows if row["request_id"] not in stored]
                if rows:
                    self._bulk.execute(conn, rows)
        except Exception as exc:  # any failure, driver or not, must not kill the writer
            return 0, exc
        return len(rows), None

    def store_feedback(self, rows: list[dict[str, Any]]) -> BaseException | None:
        """Insert feedback rows in one transaction, retrying while unreachable; the last error."""
        rows = [self._clean_feedback(row) for row in rows]
        delays = iter(self.retry_delays)
        while True:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(feedback), rows)
            except Exception as exc:
                delay = next(delays, None)
                if delay is None or not is_unavailable(exc):
                    return exc
                time.sleep(delay)
                continue
            return None


def _stored_ids(conn: Connection, request_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(request_ids), _ID_CHUNK):
        chunk = request_ids[start : start + _ID_CHUNK]
        query = select(requests.c.request_id).where(requests.c.request_id.in_(chunk))
        found.update(conn.execute(query).scalars())
    return found
