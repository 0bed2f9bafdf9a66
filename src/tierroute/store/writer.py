"""The one module that writes the request log: a bounded queue drained by a background thread.

Request handlers call ``LogWriter.submit`` (a non-blocking ``SimpleQueue.put``), so the event
loop never waits on the database. The writer thread wakes on the first queued row, lingers
``linger_s`` (50 ms) for more, then stores up to ``batch_size`` rows in one transaction (a
transaction per row cost about 200 µs of the serving process's CPU, a row in a batch 25 µs).

Nothing accepted is lost (``persist`` and ``spool`` say how): a bad row is set aside alone, to
the dead-letter file; while the database is unreachable, rows go to the durable spool and the
writer probes every ``probe_s``, replaying the spool once it answers (and on start). The queue
holds at most ``max_queue`` rows: beyond that ``submit`` spills to the spool. Only without a
spool directory can rows be lost (``dropped``), and each loss is logged with its request id.
Logs name error classes, counts and ids, never the rows' text or SQL parameters.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tierroute.exceptions import LogUnavailable
from tierroute.store.persist import RowStore
from tierroute.store.records import FeedbackRecord, RequestRecord
from tierroute.store.replay import replay_spool
from tierroute.store.spool import Spool, append_lines, encode_rows

logger = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (0.05, 0.25, 1.0)


@dataclass(slots=True)
class _Feedback:
    record: FeedbackRecord
    done: Future[None]


@dataclass(slots=True)
class _Flush:
    done: Future[None]


class _Stop:
    pass


_Item = RequestRecord | _Feedback | _Flush | _Stop


class LogWriter:
    """Batching background writer for ``requests`` and ``feedback`` rows.

    ``spool_dir`` enables the durable spool (and puts the dead-letter file there unless
    ``dead_letter`` names one). Counters: ``written``, ``spooled``, ``replayed``,
    ``dead_lettered`` and ``dropped`` rows.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 1024,
        linger_s: float = 0.05,
        dead_letter: Path | None = None,
        spool_dir: Path | None = None,
        max_queue: int = 10_000,
        probe_s: float = 1.0,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    ) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.max_queue = max_queue
        self.probe_s = probe_s
        self.spool = Spool(spool_dir) if spool_dir is not None else None
        self.dead_letter = dead_letter or (self.spool.dead_letter if self.spool else None)
        self.store = RowStore(engine, retry_delays)
        self.written = self.spooled = self.replayed = self.dead_lettered = self.dropped = 0
        self._wake = threading.Event()
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._down = False  # the database was unreachable at the last try
        self._last_probe = 0.0
        self._spilled = False  # rows went to the spool while the database was up

    @property
    def backlog(self) -> int:
        """Items queued and not yet taken by the writer thread (approximate)."""
        return self._queue.qsize()

    @property
    def spool_pending(self) -> bool:
        """Whether spooled rows wait to be replayed."""
        return self.spool is not None and self.spool.pending()

    @property
    def database_down(self) -> bool:
        """Whether the last write found the database unreachable."""
        return self._down

    def start(self) -> None:
        """Start the writer thread (idempotent); it replays the spool first."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="tierroute-log-writer", daemon=True
            )
            self._thread.start()

    def submit(self, record: RequestRecord) -> None:
        """Queue one request row; never blocks (a full queue spills to the spool)."""
        if self._closed:
            logger.warning("request log closed: writing %s synchronously", record.request_id)
            self._store_requests([record.row()])
            return
        if self._queue.qsize() >= self.max_queue:
            self._spill(record)
            return
        self._queue.put(record)

    def _spill(self, record: RequestRecord) -> None:
        if self.spool is None:
            self.dropped += 1
            logger.error("request log queue full, no spool: request %s lost", record.request_id)
            return
        # Flushed, not fsynced: this runs on the event loop, and only under overload.
        self.spool.append("requests", [record.row()], sync=False)
        self.spooled += 1
        self._spilled = True

    def add_feedback(self, record: FeedbackRecord) -> Future[None]:
        """Queue a feedback row; the future resolves once it is stored (or fails)."""
        done: Future[None] = Future()
        if self._closed:
            done.set_exception(LogUnavailable())
        else:
            self._queue.put(_Feedback(record, done))
        return done

    def flush(self) -> Future[None]:
        """A future that resolves when everything submitted before this call is handled."""
        done: Future[None] = Future()
        if self._closed or self._thread is None:
            done.set_result(None)
        else:
            self._queue.put(_Flush(done))
            self._wake.set()
        return done

    def close(self, timeout: float | None = 30.0) -> None:
        """Write (or spool) everything queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        if self._thread is None:
            self._drain_without_thread()
            return
        self._queue.put(_Stop())
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.error("request log writer did not finish within %.0f s", timeout or 0)

    def _drain_without_thread(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if self._process([item]):
                return

    def _run(self) -> None:
        self._replay()
        while True:
            waiting = self._down or self._spilled
            try:
                first = self._queue.get(timeout=self.probe_s if waiting else None)
            except queue.Empty:
                self._recover()
                continue
            items = [first]
            if self.linger_s > 0 and isinstance(first, RequestRecord | _Feedback):
                self._wake.wait(self.linger_s)
            self._wake.clear()
            while len(items) < self.batch_size:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                if self._process(items):
                    return
            except Exception:
                # The writer must outlive any surprise; the traceback shows code, not rows.
                logger.exception("request log writer: unexpected error on a batch")
            if self._spilled and self._queue.qsize() == 0:
                self._recover()

    def _process(self, items: list[_Item]) -> bool:
        """Store one batch and resolve its futures; True when a stop marker was seen."""
        stop = any(isinstance(item, _Stop) for item in items)
        if stop:
            # Whatever arrived between the stop marker and now still belongs to this run.
            self._closed = True
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
        request_rows = [item.row() for item in items if isinstance(item, RequestRecord)]
        feedback_items = [item for item in items if isinstance(item, _Feedback)]
        if request_rows:
            self._store_requests(request_rows)
        if feedback_items:
            self._store_feedback(feedback_items)
        for item in items:
            if isinstance(item, _Flush):
                item.done.set_result(None)
        return stop

    def _store_requests(self, rows: list[dict[str, Any]]) -> None:
        if self._down and not self._recover():
            self._keep(rows, None)
            return
        outcome = self.store.store_requests(rows)
        self.written += outcome.written
        if outcome.refused:
            self._set_aside(outcome.refused, outcome.error)
        if outcome.unwritten:
            self._mark_down(outcome.error)
            self._keep(outcome.unwritten, outcome.error)

    def _store_feedback(self, items: list[_Feedback]) -> None:
        error = self.store.store_feedback([item.record.row() for item in items])
        if error is None:
            self.written += len(items)
            for item in items:
                item.done.set_result(None)
            return
        # The client is told (503) and may send the label again; the row is kept for the record.
        self._dead_letter("feedback", [item.record.row() for item in items], error)
        for item in items:
            item.done.set_exception(LogUnavailable(error))

    def _mark_down(self, error: BaseException | None) -> None:
        if not self._down:
            logger.error(
                "request log: database unreachable (%s); %s",
                type(error).__name__,
                "spooling rows" if self.spool else "rows go to the dead-letter file",
            )
        self._down = True
        self._last_probe = time.monotonic()

    def _recover(self) -> bool:
        """Probe a database found down (at most every ``probe_s``), replay the spool when up."""
        if self._down:
            if time.monotonic() - self._last_probe < self.probe_s:
                return False
            self._last_probe = time.monotonic()
            if not self.store.probe():
                return False
            self._down = False
            logger.warning("request log: database reachable again; replaying the spool")
        self._replay()
        return not self._down

    def _replay(self) -> None:
        if self.spool is None:
            return
        self._spilled = False
        result = replay_spool(self.spool, self.store, self.batch_size)
        self.replayed += result.written
        if result.refused:
            self._set_aside(result.refused, result.error)
        if result.damaged:
            self._append_dead_letter(b"".join(result.damaged), len(result.damaged), None)
        if result.interrupted:
            self._mark_down(result.error)
        elif result.written or result.refused:
            logger.warning(
                "request log: replayed %d spooled row(s), %d refused",
                result.written,
                len(result.refused),
            )

    def _keep(self, rows: list[dict[str, Any]], error: BaseException | None) -> None:
        """Rows the database cannot take now: the spool, else the dead-letter file."""
        if self.spool is None:
            self._dead_letter("requests", rows, error)
            return
        try:
            self.spool.append("requests", rows)
        except OSError as exc:
            self.dropped += len(rows)
            logger.error("request log: cannot spool %d row(s) (%s)", len(rows), exc)
            return
        self.spooled += len(rows)

    def _set_aside(self, rows: list[dict[str, Any]], error: BaseException | None) -> None:
        ids = ", ".join(str(row.get("request_id")) for row in rows[:10])
        logger.error(
            "request log: %d row(s) refused by the database (%s): %s",
            len(rows),
            type(error).__name__,
            ids,
        )
        self._dead_letter("requests", rows, error)

    def _dead_letter(
        self, table: str, rows: list[dict[str, Any]], error: BaseException | None
    ) -> None:
        self._append_dead_letter(encode_rows(table, rows), len(rows), error)

    def _append_dead_letter(self, payload: bytes, count: int, error: BaseException | None) -> None:
        if self.dead_letter is None:
            self.dropped += count
            logger.error(
                "request log: %d row(s) could not be written and no dead-letter file is set: "
                "lost (%s)",
                count,
                type(error).__name__,
            )
            return
        try:
            append_lines(self.dead_letter, payload, sync=True)
        except OSError as exc:
            self.dropped += count
            logger.error("request log: cannot write the dead-letter file (%s)", exc)
            return
        self.dead_lettered += count
        logger.error(
            "request log: %d row(s) not written (%s); saved to %s",
            count,
            type(error).__name__ if error is not None else "damaged spool line",
            self.dead_letter,
        )
