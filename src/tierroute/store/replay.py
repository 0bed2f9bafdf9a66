"""Replay the spool into the database: every spooled row stored once, or kept for later."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tierroute.store.persist import RowStore
from tierroute.store.records import REQUEST_FIELDS, RequestRecord
from tierroute.store.spool import Spool, decode_row

_FIELDS = frozenset(REQUEST_FIELDS)


@dataclass(slots=True)
class ReplayResult:
    """Rows stored, refused for good, damaged lines, and whether the database went away."""

    written: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    damaged: list[bytes] = field(default_factory=list)
    interrupted: bool = False
    error: BaseException | None = None


def _row(line: bytes) -> dict[str, Any]:
    table, data = decode_row(line)
    if table != "requests" or not isinstance(data.get("request_id"), str):
        raise ValueError("not a request row")
    # Columns this version does not know are left out; missing ones take their defaults.
    return RequestRecord(**{k: v for k, v in data.items() if k in _FIELDS}).row()


def replay_spool(spool: Spool, store: RowStore, batch_size: int) -> ReplayResult:
    """Store every spooled row (duplicates of stored ids skipped); stop if the database fails."""
    result = ReplayResult()
    for path in spool.claim():
        with path.open("rb") as handle:
            for lines in Spool.chunks(handle, batch_size):
                rows: list[dict[str, Any]] = []
                line_of: dict[int, bytes] = {}
                for line in lines:
                    try:
                        row = _row(line)
                    except (ValueError, TypeError):
                        result.damaged.append(line)
                        continue
                    rows.append(row)
                    line_of[id(row)] = line
                outcome = store.store_requests(rows, dedupe=True)
                result.written += outcome.written
                result.refused += outcome.refused
                if outcome.unwritten:
                    result.interrupted, result.error = True, outcome.error
                    # store_requests cleans rows in place, so identities still match.
                    rest = [line_of[id(row)] for row in outcome.unwritten if id(row) in line_of]
                    Spool.keep_rest(path, rest, handle)
                    return result
        path.unlink()
    return result
