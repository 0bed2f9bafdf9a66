"""The training pool: project rows plus imported public sets, merged by a stated precedence.

The same normalized text can carry two tiers across sources (a CLINC small-talk line that a
project file labels by the policy, a question both in CLINC and in Dolly). Within one source
that is an error, as ever (``read_labeled``); across sources it is settled here:

1. project labels (``data/raw`` and any ``--data`` file) win over public ones;
2. a text two public sets label differently is left out of both (no project label decides it);
3. a public row equal to a project row, or to an earlier public row with the same tier, is a
   duplicate and merged.

Every conflict is returned so that the command prints it and the card counts it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tierroute.data.first_labels import FirstLabels
from tierroute.data.importers import IMPORTERS, import_dataset
from tierroute.data.io import read_labeled
from tierroute.data.schema import LabeledRow, normalize_text

# Rows per tier kept of each public set (deterministic sample): CLINC alone has 22,500 rows and
# would drown the project's few thousand; more also measured no better out of group.
DEFAULT_PUBLIC_LIMIT = 1500


@dataclass(frozen=True)
class Conflict:
    """One text labeled differently by two sources, and what was kept."""

    text: str
    kept_tier: str | None  # None: left out of both
    kept_source: str | None
    dropped_tier: str
    dropped_source: str


@dataclass
class Pool:
    """Merged rows, the conflicts settled and the number of merged duplicates."""

    rows: list[LabeledRow]
    conflicts: list[Conflict] = field(default_factory=list)
    duplicates: int = 0
    public_rows: int = 0

    def conflict_counts(self) -> dict[str, int]:
        """Conflicts per 'kept source <- dropped source' pair (for the card)."""
        counts = Counter(
            f"{c.kept_source or 'left out'} <- {c.dropped_source}" for c in self.conflicts
        )
        return dict(sorted(counts.items()))


def load_public(
    paths: Sequence[Path], limit: int | None = DEFAULT_PUBLIC_LIMIT
) -> list[LabeledRow]:
    """Public rows from dataset folders (run through their importer) or imported files.

    A folder holding dataset folders named as the importers (``../shared/datasets``) imports
    each one present; a folder named as an importer imports that set; anything else is read as
    labeled files (``tierroute data import`` outputs).
    """
    rows: list[LabeledRow] = []
    for path in paths:
        if path.is_dir() and path.name in IMPORTERS:
            rows += import_dataset(path.name, path, limit).rows
        elif path.is_dir() and any((path / name).is_dir() for name in IMPORTERS):
            for name in sorted(IMPORTERS):
                if (path / name).is_dir():
                    rows += import_dataset(name, path / name, limit).rows
        else:
            rows += read_labeled([path]).rows
    return rows


def merge_pool(project: Sequence[LabeledRow], public: Sequence[LabeledRow]) -> Pool:
    """Project rows, then the public rows no project row or other public set contradicts."""
    pool = Pool(rows=list(project))
    project_by_key = {normalize_text(r.text): r for r in project}
    public_seen: FirstLabels[LabeledRow] = FirstLabels()
    for row in public:
        key = normalize_text(row.text)
        owner = project_by_key.get(key)
        if owner is not None:
            if owner.tier == row.tier:
                pool.duplicates += 1
            else:
                pool.conflicts.append(
                    Conflict(row.text, owner.tier, owner.source, row.tier, row.source)
                )
            continue
        first_conflict = key not in public_seen.conflicted
        earlier = public_seen.add(key, row.tier, row)
        if earlier is not None:
            if first_conflict:  # both sides are left out: the first one is reported too
                pool.conflicts.append(
                    Conflict(earlier.text, None, None, earlier.tier, earlier.source)
                )
            pool.conflicts.append(Conflict(row.text, None, None, row.tier, row.source))
    kept = public_seen.kept()
    pool.rows += kept
    pool.public_rows = len(kept)
    pool.duplicates += public_seen.duplicates
    return pool
