"""The one module that writes the request log: a bounded queue drained by a background thread.

Request handlers call ``LogWriter.submit`` (a non-blocking ``SimpleQueue.put``), so the event
loop never waits on the database. The writer thread wakes on the first queued row, lingers
``linger_s`` (50 ms) for more, then stores up to ``batch_size`` rows in one transaction (a
transaction per row cost about 200 µs of the serving process's CPU, a row in a batch 25 µs).

Nothing accepted is lost: the thread stores through ``durable.DurableLog``, which sets a bad row
aside alone (dead-letter file), spools rows while the database is unreachable and replays them
once it answers (and on start). The queue holds at most ``max_queue`` rows: beyond that
``submit`` spills to the spool. Only without a spool directory can rows be lost (``dropped``),
and each loss is logged with its request id.
"""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from tierroute.exceptions import LogUnavailable
from tierroute.store.durable import DEFAULT_RETRY_DELAYS, DurableLog
from tierroute.store.records import FeedbackRecord, RequestRecord

logger = logging.getLogger(__name__)


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
        self.log = DurableLog(
            engine,
            batch_size=batch_size,
            dead_letter=dead_letter,
            spool_dir=spool_dir,
            probe_s=probe_s,
            retry_delays=retry_delays,
        )
        self._wake = threading.Event()
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def backlog(self) -> int:
        """Items queued and not yet taken by the writer thread (approximate)."""
        return self._queue.qsize()

    @property
    def probe_s(self) -> float:
        """Seconds between probes of a database found down."""
        return self.log.probe_s

    @probe_s.setter
    def probe_s(self, seconds: float) -> None:
        self.log.probe_s = seconds

    @property
    def written(self) -> int:
        """Rows stored as they came (replayed rows not counted)."""
        return self.log.written

    @property
    def replayed(self) -> int:
        """Spooled rows stored later."""
        return self.log.replayed

    @property
    def spooled(self) -> int:
        """Rows written to the spool (database unreachable, or the queue full)."""
        return self.log.spooled

    @property
    def dropped(self) -> int:
        """Rows lost: no spool or dead-letter file could take them."""
        return self.log.dropped

    @property
    def dead_lettered(self) -> int:
        """Rows set aside in the dead-letter file (refused by the database, or damaged)."""
        return self.log.keeper.dead_lettered

    @property
    def spool_pending(self) -> bool:
        """Whether spooled rows wait to be replayed."""
        return self.log.spool is not None and self.log.spool.pending()

    @property
    def database_down(self) -> bool:
        """Whether the last write found the database unreachable."""
        return self.log.down

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
            self.log.store_requests([record.row()])
            return
        if self._queue.qsize() >= self.max_queue:
            self.log.spill(record)
            return
        self._queue.put(record)

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
        self.log.replay()
        while True:
            waiting = self.log.down or self.log.spilled
            try:
                first = self._queue.get(timeout=self.probe_s if waiting else None)
            except queue.Empty:
                self.log.recover()
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
            if self.log.spilled and self._queue.qsize() == 0:
                self.log.recover()

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
            self.log.store_requests(request_rows)
        if feedback_items:
            error = self.log.store_feedback([item.record.row() for item in feedback_items])
            for waiting in feedback_items:
                if error is None:
                    waiting.done.set_result(None)
                else:
                    waiting.done.set_exception(LogUnavailable(error))
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
        self.log.set_aside([item.row() for item in items if isinstance(item, RequestRecord)], exc)
        for item in items:
            if isinstance(item, _Feedback) and not item.done.done():
                item.done.set_exception(LogUnavailable(exc))
            elif isinstance(item, _Flush) and not item.done.done():
                item.done.set_result(None)
