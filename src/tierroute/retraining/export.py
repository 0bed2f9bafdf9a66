"""``tierroute logs export``: request-log rows with their latest human label, as JSONL.

Each line carries the logged decision (``routed_tier``, confidence, model, tokens, cost...) and
the label: ``tier`` is the latest human label or null. With ``labeled_only`` every line has a
label and a text, so the file is also a labeled data file (``tierroute train --data``,
``tierroute eval --data``); labeled requests whose text the log did not keep are counted, not
written. Labels given on bare texts (``logs label`` rows without a request id) are included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tierroute.data.schema import guess_lang
from tierroute.output_files import atomic_text_writer
from tierroute.store.labels import LoggedRow, logged_rows

LOG_SOURCE = "request-log"


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote and what it could not."""

    rows: int
    labeled: int
    bare_labels: int
    labeled_without_text: int
    path: Path


def _iso(value: Any) -> Any:
    return value.isoformat() + "Z" if isinstance(value, datetime) else value


def export_record(row: LoggedRow) -> dict[str, Any]:
    """One JSONL line for a logged row (JSON-ready; timestamps in ISO UTC).

    Every line has the same keys; the label is written as ``tier`` (the data files' field).
    """
    out = {f.name: _iso(getattr(row, f.name)) for f in fields(row) if f.name != "label"}
    out["tier"] = row.label
    out["source"] = LOG_SOURCE
    out["lang"] = guess_lang(row.text) if row.text else None
    return out


def _lines(
    engine: Engine, start: datetime, labeled_only: bool, counts: dict[str, int]
) -> Iterator[str]:
    for row in logged_rows(engine, start, labeled_only=labeled_only):
        labeled = row.label is not None
        if labeled and not row.text:
            counts["labeled_without_text"] += 1
            if labeled_only:
                continue
        counts["labeled"] += labeled
        counts["bare_labels"] += row.request_id is None
        yield json.dumps(export_record(row), ensure_ascii=False) + "\n"


def export_logs(
    engine: Engine, start: datetime, out: Path, *, labeled_only: bool = False
) -> ExportSummary:
    """Write the log rows since ``start`` to ``out`` (JSONL), atomically; returns the counts."""
    counts = {"labeled": 0, "bare_labels": 0, "labeled_without_text": 0}
    written = 0
    with atomic_text_writer(out) as handle:
        for line in _lines(engine, start, labeled_only, counts):
            handle.write(line)
            written += 1
    return ExportSummary(
        rows=written,
        labeled=counts["labeled"],
        bare_labels=counts["bare_labels"],
        labeled_without_text=counts["labeled_without_text"],
        path=out,
    )
