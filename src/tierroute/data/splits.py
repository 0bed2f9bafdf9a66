"""Deterministic, stratified train/eval splits that never leak an eval text into training.

Each row is placed by a hash of its normalized text, ranked within its (tier, lang) stratum:
the same data always splits the same way, adding rows moves few others, and duplicates after
normalisation can only land on one side.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

from tierroute.data.schema import LabeledRow, normalize_text


def _rank_key(text: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{normalize_text(text)}".encode()).hexdigest()


def split_rows(
    rows: Sequence[LabeledRow], eval_fraction: float = 0.15, seed: int = 0
) -> tuple[list[LabeledRow], list[LabeledRow]]:
    """(train, eval) with ``eval_fraction`` of every (tier, lang) stratum in eval."""
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError("eval_fraction must be between 0 and 1")
    unique: dict[str, LabeledRow] = {}
    for row in rows:
        unique.setdefault(normalize_text(row.text), row)
    strata: dict[tuple[str, str], list[LabeledRow]] = defaultdict(list)
    for row in unique.values():
        strata[(row.tier, row.lang)].append(row)
    train: list[LabeledRow] = []
    held_out: list[LabeledRow] = []
    for key in sorted(strata):
        ranked = sorted(strata[key], key=lambda r: _rank_key(r.text, seed))
        n_eval = round(len(ranked) * eval_fraction)
        held_out.extend(ranked[:n_eval])
        train.extend(ranked[n_eval:])
    return train, held_out


def exclude_texts(rows: Sequence[LabeledRow], banned: Sequence[LabeledRow]) -> list[LabeledRow]:
    """Rows whose normalized text is not among ``banned`` (keeps a frozen eval set unseen)."""
    keys = {normalize_text(row.text) for row in banned}
    return [row for row in rows if normalize_text(row.text) not in keys]
