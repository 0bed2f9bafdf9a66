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
import traceback
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tierroute.exceptions import LogUnavailable
from tierroute.store.keep import RowKeeper
from tierroute.store.persist import RowStore
from tierroute.store.records import FeedbackRecord, RequestRecord
from tierroute.store.replay import replay_spool
from tierroute.store.spool import Spool

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
        # Counted by the writer thread only; the submitting threads count apart (below).
        self.written = self.replayed = 0
        self.keeper = RowKeeper(self.spool, self.dead_letter)
        self._submit_lock = threading.Lock()
        self._spilled_rows = self._dropped_on_submit = 0
        self._wake = threading.Event()
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._down = False  # the database was unreachable at the last try
        self._last_probe = 0.0
        self._last_error: BaseException | None = None
        self._spilled = False  # rows went to the spool while the database was up

    @property
    def backlog(self) -> int:
        """Items queued and not yet taken by the writer thread (approximate)."""
        return self._queue.qsize()

    @property
    def spooled(self) -> int:
        """Rows written to the spool (database unreachable, or the queue full)."""
        return self.keeper.spooled + self._spilled_rows

    @property
    def dropped(self) -> int:
        """Rows lost: no spool or dead-letter file could take them."""
        return self.keeper.dropped + self._dropped_on_submit

    @property
    def dead_lettered(self) -> int:
        """Rows set aside in the dead-letter file (refused by the database, or damaged)."""
        return self.keeper.dead_lettered

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
        with self._submit_lock:
            if self.spool is None:
                self._dropped_on_submit += 1
                logger.error("request log queue full, no spool: request %s lost", record.request_id)
                return
            # Flushed, not fsynced: this runs on the event loop, and only under overload.
            self.spool.append("requests", [record.row()], sync=False)
            self._spilled_rows += 1
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
            except Exception as exc:
                self._rescue(items, exc)
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

    def _rescue(self, items: list[_Item], exc: Exception) -> None:
        """The writer outlives any surprise: keep the batch's rows, resolve its futures."""
        # The frames only: an exception's message may quote a row's values.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        logger.error(
            "request log writer: unexpected %s on a batch of %d item(s)\n%s",
            type(exc).__name__,
            len(items),
            frames,
        )
        rows = [item.row() for item in items if isinstance(item, RequestRecord)]
        try:
            self.keeper.to_dead_letter("requests", rows, exc)
        except Exception as again:
            self.keeper.dropped += len(rows)
            logger.error("request log: %d row(s) lost (%s)", len(rows), type(again).__name__)
        for item in items:
            if isinstance(item, _Feedback) and not item.done.done():
                item.done.set_exception(LogUnavailable(exc))
            elif isinstance(item, _Flush) and not item.done.done():
                item.done.set_result(None)

    def _store_requests(self, rows: list[dict[str, Any]]) -> None:
        if self._down and not self._recover():
            self.keeper.keep(rows, None)
            return
        outcome = self.store.store_requests(rows)
        self.written += outcome.written
        if outcome.refused:
            self.keeper.set_aside(outcome.refused, outcome.error)
        if outcome.unwritten:
            self._mark_down(outcome.error)
            self.keeper.keep(outcome.unwritten, outcome.error)

    def _store_feedback(self, items: list[_Feedback]) -> None:
        if self._down and not self._recover():
            error: BaseException | None = self._last_error or LogUnavailable()
        else:
            error = self.store.store_feedback([item.record.row() for item in items])
        if error is None:
            self.written += len(items)
            for item in items:
                item.done.set_result(None)
            return
        # The client is told (503) and may send the label again; the row is kept for the record.
        self.keeper.to_dead_letter("feedback", [item.record.row() for item in items], error)
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
        self._last_error = error
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
