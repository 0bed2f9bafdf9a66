"""A labeled evaluation set built only from the public datasets (never committed, never trained on).

Rows come through the importers' tier mappings; each row's ``source`` names its public set.
Within a set, duplicates and texts seen under two tiers are dropped; across sets, a row that is
a near-copy (:mod:`tierroute.data.overlap`) of a row of an earlier set is dropped. A fixed
hash order makes the optional per-source sample deterministic.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tierroute.data.importers import IMPORTERS, ImportResult, import_clinc150, unique_texts
from tierroute.data.overlap import TextRef, find_near_copies
from tierroute.data.schema import LabeledRow, normalize_text
from tierroute.exceptions import DataError

# (dataset folder, importer) in the order sets are kept when two of them hold near-copies.
PUBLIC_EVAL_SETS: tuple[tuple[str, Callable[[Path], ImportResult]], ...] = (
    ("clinc150", lambda path: import_clinc150(path, splits={"test"})),
    ("gsm8k", IMPORTERS["gsm8k"]),
    ("code_alpaca", IMPORTERS["code_alpaca"]),
    ("gpteacher", IMPORTERS["gpteacher"]),
    ("dolly_open_qa", IMPORTERS["dolly_open_qa"]),
)


@dataclass
class PublicEval:
    """The evaluation rows and the count of rows left out, by reason."""

    rows: list[LabeledRow]
    skipped: Counter[str] = field(default_factory=Counter)


def _hash_order(row: LabeledRow) -> str:
    return hashlib.sha256(normalize_text(row.text).encode()).hexdigest()


def build_public_eval(
    datasets_dir: Path,
    per_source: int | None = None,
    step: Callable[[int], None] | None = None,
) -> PublicEval:
    """Rows of every public set, mapped to tiers, de-duplicated, optionally N per source."""
    missing = [name for name, _ in PUBLIC_EVAL_SETS if not (datasets_dir / name).is_dir()]
    if missing:
        raise DataError(f"{datasets_dir}: no folder for {', '.join(missing)}")
    result = PublicEval(rows=[])
    for name, importer in PUBLIC_EVAL_SETS:
        imported = importer(datasets_dir / name)
        result.skipped.update({f"{k} ({name})": v for k, v in imported.skipped.items()})
        fresh = sorted(unique_texts(imported.rows, result.skipped, by_source=True), key=_hash_order)
        copies = find_near_copies(
            [TextRef(r.file, r.line, r.text) for r in result.rows],
            [TextRef(r.file, r.line, r.text) for r in fresh],
        )
        copied = {(c.eval.file, c.eval.line) for c in copies}
        for row in fresh:
            if (row.file, row.line) in copied:
                result.skipped[f"near-copy of an earlier set ({row.source})"] += 1
            else:
                result.rows.append(row)
        if step is not None:
            step(1)
    if per_source is not None:
        kept: list[LabeledRow] = []
        for source in sorted({r.source for r in result.rows}):
            rows = [r for r in result.rows if r.source == source]  # already in hash order
            kept.extend(rows[:per_source])
            if len(rows) > per_source:
                result.skipped[f"over --per-source {per_source} ({source})"] += (
                    len(rows) - per_source
                )
        result.rows = kept
    return result
