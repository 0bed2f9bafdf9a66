"""Where log rows go that the database cannot take: the spool (later) or the dead-letter file.

``RowKeeper`` is the writer thread's; it counts what it keeps and what it loses, and logs error
classes, counts and request ids only, never a row's text.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tierroute.store.spool import Spool, append_lines, encode_rows

logger = logging.getLogger(__name__)


class RowKeeper:
    """Spool rows for later, or set refused rows aside in the dead-letter file."""

    def __init__(self, spool: Spool | None, dead_letter: Path | None) -> None:
        self.spool = spool
        self.dead_letter = dead_letter
        self.spooled = self.dead_lettered = self.dropped = 0

    def keep(self, rows: list[dict[str, Any]], error: BaseException | None) -> None:
        """Rows the database cannot take now: the spool, else the dead-letter file."""
        if self.spool is None:
            self.to_dead_letter("requests", rows, error)
            return
        try:
            self.spool.append("requests", rows)
        except OSError as exc:
            self.dropped += len(rows)
            logger.error("request log: cannot spool %d row(s) (%s)", len(rows), exc)
            return
        self.spooled += len(rows)

    def set_aside(self, rows: list[dict[str, Any]], error: BaseException | None) -> None:
        """Rows the database refused: logged by id, kept in the dead-letter file."""
        ids = ", ".join(str(row.get("request_id")) for row in rows[:10])
        logger.error(
            "request log: %d row(s) refused by the database (%s): %s",
            len(rows),
            type(error).__name__,
            ids,
        )
        self.to_dead_letter("requests", rows, error)

    def to_dead_letter(
        self, table: str, rows: list[dict[str, Any]], error: BaseException | None
    ) -> None:
        """Append ``rows`` of ``table`` to the dead-letter file."""
        self.dead_letter_lines(encode_rows(table, rows), len(rows), error)

    def dead_letter_lines(self, payload: bytes, count: int, error: BaseException | None) -> None:
        """Append ready JSON lines (``count`` rows) to the dead-letter file."""
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
