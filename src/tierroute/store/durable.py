"""Batches of log rows stored so that none is lost, through outages of the database.

``DurableLog`` is what the writer thread stores through: ``persist`` writes a batch (setting bad
rows aside), ``keep`` spools what the database cannot take now or dead-letters what it refuses,
and a database found down is probed at most every ``probe_s`` and the spool replayed once it
answers. Only ``spill`` runs on the submitting threads (the event loop); it counts apart, under a
lock. Logs name error classes, counts and ids, never the rows' text or SQL parameters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tierroute.exceptions import LogUnavailable
from tierroute.store.keep import RowKeeper
from tierroute.store.persist import RowStore
from tierroute.store.records import RequestRecord
from tierroute.store.replay import replay_spool
from tierroute.store.spool import Spool

logger = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (0.05, 0.25, 1.0)


class DurableLog:
    """Store request and feedback rows; keep (spool, dead-letter) what cannot be stored."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int,
        dead_letter: Path | None,
        spool_dir: Path | None,
        probe_s: float,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    ) -> None:
        self.batch_size = batch_size
        self.probe_s = probe_s
        self.spool = Spool(spool_dir) if spool_dir is not None else None
        self.dead_letter = dead_letter or (self.spool.dead_letter if self.spool else None)
        self.store = RowStore(engine, retry_delays)
        self.keeper = RowKeeper(self.spool, self.dead_letter)
        # Counted by the writer thread only; the submitting threads count apart (spill).
        self.written = self.replayed = 0
        self._submit_lock = threading.Lock()
        self._spilled_rows = self._dropped_on_submit = 0
        self.down = False  # the database was unreachable at the last try
        self.spilled = False  # rows went to the spool while the database was up
        self._last_probe = 0.0
        self._last_error: BaseException | None = None

    @property
    def spooled(self) -> int:
        """Rows written to the spool (database unreachable, or the queue full)."""
        return self.keeper.spooled + self._spilled_rows

    @property
    def dropped(self) -> int:
        """Rows lost: no spool or dead-letter file could take them."""
        return self.keeper.dropped + self._dropped_on_submit

    def spill(self, record: RequestRecord) -> None:
        """Spool a row the full queue cannot take (from a submitting thread)."""
        with self._submit_lock:
            if self.spool is None:
                self._dropped_on_submit += 1
                logger.error("request log queue full, no spool: request %s lost", record.request_id)
                return
            # Flushed, not fsynced: this runs on the event loop, and only under overload.
            self.spool.append("requests", [record.row()], sync=False)
            self._spilled_rows += 1
            self.spilled = True

    def store_requests(self, rows: list[dict[str, Any]]) -> None:
        """Store request rows, or keep them (spool, dead-letter file)."""
        if self.down and not self.recover():
            self.keeper.keep(rows, None)
            return
        outcome = self.store.store_requests(rows)
        self.written += outcome.written
        if outcome.refused:
            self.keeper.set_aside(outcome.refused, outcome.error)
        if outcome.unwritten:
            self._mark_down(outcome.error)
            self.keeper.keep(outcome.unwritten, outcome.error)

    def store_feedback(self, rows: list[dict[str, Any]]) -> BaseException | None:
        """Store feedback rows; None, or the error (the rows then go to the dead-letter file)."""
        if self.down and not self.recover():
            error: BaseException | None = self._last_error or LogUnavailable()
        else:
            error = self.store.store_feedback(rows)
        if error is None:
            self.written += len(rows)
            return None
        # The client is told (503) and may send the label again; the row is kept for the record.
        self.keeper.to_dead_letter("feedback", rows, error)
        return error

    def set_aside(self, rows: list[dict[str, Any]], exc: Exception) -> None:
        """Rows of a batch an unexpected error cut short: to the dead-letter file, else lost."""
        try:
            self.keeper.to_dead_letter("requests", rows, exc)
        except Exception as again:
            self.keeper.dropped += len(rows)
            logger.error("request log: %d row(s) lost (%s)", len(rows), type(again).__name__)

    def _mark_down(self, error: BaseException | None) -> None:
        if not self.down:
            logger.error(
                "request log: database unreachable (%s); %s",
                type(error).__name__,
                "spooling rows" if self.spool else "rows go to the dead-letter file",
            )
        self.down = True
        self._last_error = error
        self._last_probe = time.monotonic()

    def recover(self) -> bool:
        """Probe a database found down (at most every ``probe_s``), replay the spool when up."""
        if self.down:
            if time.monotonic() - self._last_probe < self.probe_s:
                return False
            self._last_probe = time.monotonic()
            if not self.store.probe():
                return False
            self.down = False
            logger.warning("request log: database reachable again; replaying the spool")
        self.replay()
        return not self.down

    def replay(self) -> None:
        """Store the spooled rows (on start, and when the database answers again)."""
        if self.spool is None:
            return
        self.spilled = False
        result = replay_spool(self.spool, self.store, self.batch_size)
        self.replayed += result.written
        if result.refused:
            self.keeper.set_aside(result.refused, result.error)
        if result.damaged:
            self.keeper.dead_letter_lines(b"".join(result.damaged), len(result.damaged), None)
        if result.interrupted:
            self._mark_down(result.error)
        elif result.written or result.refused:
            logger.warning(
                "request log: replayed %d spooled row(s), %d refused",
                result.written,
                len(result.refused),
            )
