"""Turn logged labels into training rows: one label per text, merged with the base data.

Texts are compared by their normalized form (``normalize_text``). When one text carries several
labels, the latest human label wins (label time, then label id) and the disagreement is kept as
a ``LabelConflict`` so that it can be reported; a logged label also beats the base data's label
for the same text, since it is the later human judgement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tierroute.data.schema import LabeledRow, guess_lang, normalize_text
from tierroute.retraining.export import LOG_SOURCE
from tierroute.store.labels import LoggedLabel


@dataclass(frozen=True)
class LogExample:
    """One logged text with its winning label; ``observed_at`` is its newest sighting."""

    row: LabeledRow
    observed_at: datetime
    labeled_at: datetime
    labels: int


@dataclass(frozen=True)
class LabelConflict:
    """A text labeled with more than one tier, the tier that won and every label it had."""

    text: str
    winner: str
    labels: tuple[str, ...]  # "tier (origin)" in the order they were given

    def describe(self) -> str:
        """One line for a console or a report."""
        shown = self.text if len(self.text) <= 70 else self.text[:67] + "..."
        return f"{shown!r}: {' vs '.join(self.labels)} -> {self.winner}"


@dataclass
class ResolvedLabels:
    """Logged labels reduced to one example per text."""

    examples: list[LogExample] = field(default_factory=list)
    conflicts: list[LabelConflict] = field(default_factory=list)
    without_text: int = 0
    labels: int = 0


def resolve_labels(labels: Sequence[LoggedLabel]) -> ResolvedLabels:
    """One example per normalized text; the latest label wins and disagreements are recorded."""
    out = ResolvedLabels(labels=len(labels))
    groups: dict[str, list[LoggedLabel]] = defaultdict(list)
    for label in labels:
        if not label.text or not label.text.strip():
            out.without_text += 1
            continue
        groups[normalize_text(label.text)].append(label)
    for group in groups.values():
        ordered = sorted(group, key=lambda lb: (lb.labeled_at, lb.label_id))
        winner = ordered[-1]
        assert winner.text is not None
        text = winner.text.strip()
        out.examples.append(
            LogExample(
                row=LabeledRow(
                    text=text, tier=winner.tier, source=LOG_SOURCE, lang=guess_lang(text)
                ),
                observed_at=max(lb.observed_at for lb in group),
                labeled_at=winner.labeled_at,
                labels=len(group),
            )
        )
        if len({lb.tier for lb in group}) > 1:
            out.conflicts.append(
                LabelConflict(
                    text=text,
                    winner=winner.tier,
                    labels=tuple(
                        f"{lb.tier} ({lb.source} {lb.labeled_at:%Y-%m-%d %H:%M})" for lb in ordered
                    ),
                )
            )
    out.examples.sort(key=lambda ex: (ex.observed_at, ex.labeled_at))
    return out


def newest_holdout(
    examples: Sequence[LogExample], fraction: float
) -> tuple[list[LogExample], list[LogExample]]:
    """(older, newest): the last ``fraction`` of the examples by time is held out of training."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError("holdout fraction must be in [0, 1)")
    ordered = sorted(examples, key=lambda ex: (ex.observed_at, ex.labeled_at))
    n_holdout = round(len(ordered) * fraction)
    cut = len(ordered) - n_holdout
    return ordered[:cut], ordered[cut:]


@dataclass
class MergedData:
    """Base rows plus logged examples, one row per text."""

    rows: list[LabeledRow]
    from_base: int
    from_log: int
    confirmed: int  # logged labels that agree with the base data's label for the same text
    conflicts: list[LabelConflict]


def merge_with_base(base: Sequence[LabeledRow], logged: Sequence[LogExample]) -> MergedData:
    """Base rows with logged examples layered on top; a logged label overrides the base's."""
    logged_keys: dict[str, LogExample] = {}
    for example in logged:
        logged_keys[normalize_text(example.row.text)] = example
    kept_base: list[LabeledRow] = []
    conflicts: list[LabelConflict] = []
    confirmed = 0
    seen_base: set[str] = set()
    for row in base:
        key = normalize_text(row.text)
        if key in seen_base:
            continue
        seen_base.add(key)
        override = logged_keys.get(key)
        if override is None:
            kept_base.append(row)
        elif override.row.tier == row.tier:
            confirmed += 1
        else:
            origin = f"{row.file}:{row.line}" if row.file else row.source
            conflicts.append(
                LabelConflict(
                    text=override.row.text,
                    winner=override.row.tier,
                    labels=(
                        f"{row.tier} (base {origin})",
                        f"{override.row.tier} (request log {override.labeled_at:%Y-%m-%d %H:%M})",
                    ),
                )
            )
    rows = kept_base + [example.row for example in logged]
    return MergedData(
        rows=rows,
        from_base=len(kept_base),
        from_log=len(logged),
        confirmed=confirmed,
        conflicts=conflicts,
    )
