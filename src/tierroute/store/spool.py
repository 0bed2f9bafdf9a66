"""The durable spool: log rows the database could not take now, as JSON lines on disk.

Rows are appended to ``spool.jsonl`` (flushed and fsynced per batch) while the database is
unavailable or the in-memory queue is full. To replay, the writer claims the file (renames it
to ``replay-<ns>.jsonl``, so new rows go to a fresh spool meanwhile), reads it in chunks and
deletes it once every row is stored; a replay cut short keeps the rows not yet handled
(``keep_rest``), so nothing is lost and (with the writer's duplicate check) nothing is doubled.
Rows the database refuses for good go to ``dead-letter.jsonl`` beside it, never nowhere.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson

SPOOL_FILE = "spool.jsonl"
DEAD_LETTER_FILE = "dead-letter.jsonl"
_REPLAY_GLOB = "replay-*.jsonl"


def _encode(table: str, row: dict[str, Any]) -> bytes:
    data = {"table": table, **row}
    try:
        return orjson.dumps(data, default=str)
    except TypeError:  # orjson takes no integer beyond 64 bits; such a row must be kept too
        return json.dumps(data, default=str, ensure_ascii=False).encode("utf-8")


def encode_rows(table: str, rows: Iterable[dict[str, Any]]) -> bytes:
    """JSON lines ``{"table": ..., **row}`` (datetimes as ISO text)."""
    return b"".join(_encode(table, row) + b"\n" for row in rows)


def decode_row(line: bytes) -> tuple[str, dict[str, Any]]:
    """``(table, row)`` from one spool line; raises ValueError on a damaged line."""
    data = orjson.loads(line)
    if not isinstance(data, dict) or not isinstance(data.get("table"), str):
        raise ValueError("not a spooled row")
    table = data.pop("table")
    created = data.get("created_at")
    if isinstance(created, str):
        data["created_at"] = datetime.fromisoformat(created)
    return table, data


def append_lines(path: Path, payload: bytes, *, sync: bool) -> None:
    """Append ``payload`` to ``path`` (created 0600), fsynced when ``sync``."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, payload)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """The spool directory: append rows, claim spooled files for replay, keep what is left."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / SPOOL_FILE
        self.dead_letter = directory / DEAD_LETTER_FILE
        self._lock = threading.Lock()

    def append(self, table: str, rows: Iterable[dict[str, Any]], *, sync: bool = True) -> None:
        """Append rows (thread-safe)."""
        payload = encode_rows(table, rows)
        with self._lock:
            append_lines(self.path, payload, sync=sync)

    def pending(self) -> bool:
        """Whether anything waits to be replayed."""
        return self.path.exists() or any(self.directory.glob(_REPLAY_GLOB))

    def claim(self) -> list[Path]:
        """The files to replay, oldest first: earlier claims left over, then the current spool."""
        with self._lock:
            if self.path.exists() and self.path.stat().st_size > 0:
                self.path.rename(self.directory / f"replay-{time.time_ns():020d}.jsonl")
            elif self.path.exists():
                self.path.unlink()
        return sorted(self.directory.glob(_REPLAY_GLOB))

    @staticmethod
    def chunks(handle: IO[bytes], size: int) -> Iterator[list[bytes]]:
        """Non-empty lines of an open file, ``size`` at a time."""
        while True:
            lines = [line for line in islice(handle, size) if line.strip()]
            if not lines:
                return
            yield lines

    @staticmethod
    def keep_rest(path: Path, unhandled: list[bytes], handle: IO[bytes]) -> None:
        """Replace ``path`` by ``unhandled`` plus whatever ``handle`` has not read yet."""
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            out.writelines(unhandled)
            for line in handle:
                out.write(line)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
