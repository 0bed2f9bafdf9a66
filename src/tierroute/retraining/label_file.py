"""``tierroute logs label``: read a file of corrected labels, validate every row, store them.

Each row names the query by ``request_id`` (a logged request) or by ``text`` (a bare query), and
gives its ``tier``. JSONL objects or CSV with a header; other fields are ignored, so a file written
by ``tierroute logs export`` can be edited and fed back. Every bad row is reported by file, line
and field; nothing is stored unless all rows are valid, or, with ``skip_invalid``, the bad ones
are left out and still reported. Rows without a tier (``"tier": null`` or no tier, as ``logs
export`` writes unlabeled requests) are not labels: they are skipped and counted, not rejected.
Texts are redacted before they are stored, like the request log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tierroute.data.first_labels import FirstLabels

# The labeled-data reader's JSONL parser: one place decides what a bad JSON line is.
from tierroute.data.io import csv_reader, read_records
from tierroute.data.schema import normalize_text
from tierroute.exceptions import DataError, RowIssue, ValidationFailed
from tierroute.redact import redact
from tierroute.store.labels import existing_request_ids, store_labels
from tierroute.store.records import FeedbackRecord, utcnow

IMPORT_SOURCE = "import"
_MAX_REQUEST_ID = 128  # the width of feedback.request_id


@dataclass
class LabelFile:
    """The valid labels of one file, and every problem found in it."""

    records: list[FeedbackRecord] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    duplicates: int = 0
    unlabeled: int = 0


@dataclass(frozen=True)
class LabelImport:
    """What ``import_labels`` stored and what it left out."""

    stored: int
    by_request: int
    by_text: int
    tiers: dict[str, int]
    duplicates: int
    skipped: list[RowIssue]
    unlabeled: int = 0


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line, record or None, error) for each non-blank JSONL line or CSV row.

    JSONL goes through the labeled-data reader (same messages for bad JSON); CSV is read here
    because a label file's header rule differs (``tier`` plus ``request_id`` or ``text``).
    """
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".csv":
        reader = csv_reader(path)
        columns = set(reader.fieldnames or [])
        if "tier" not in columns or not columns & {"request_id", "text"}:
            yield 1, None, "CSV header needs a 'tier' column and 'request_id' or 'text'"
            return
        for row in reader:
            # An empty CSV cell means the field is absent.
            yield reader.line_num, {k: v for k, v in row.items() if v not in ("", None)}, ""
        return
    yield from read_records(path)


def _problems(record: dict[str, Any], tiers: Collection[str]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    tier = record.get("tier")
    if not isinstance(tier, str) or not tier:
        problems.append(("tier", "missing or not a string"))
    elif tier not in tiers:
        problems.append(("tier", f"unknown tier {tier!r} (expected one of {sorted(tiers)})"))
    request_id = record.get("request_id")
    text = record.get("text")
    if request_id is None and text is None:
        problems.append(("request_id", "give a request_id or a text"))
    if request_id is not None and (
        not isinstance(request_id, str)
        or not request_id.strip()
        or len(request_id) > _MAX_REQUEST_ID
    ):
        problems.append(
            ("request_id", f"not a non-empty string of at most {_MAX_REQUEST_ID} characters")
        )
    if text is not None and (not isinstance(text, str) or not text.strip()):
        problems.append(("text", "empty or not a string"))
    return problems


def read_label_file(path: Path, tiers: Collection[str]) -> LabelFile:
    """Parse and validate a label file (no database access); conflicts within it are issues."""
    out = LabelFile()
    seen: FirstLabels[tuple[FeedbackRecord, int]] = FirstLabels()
    now = utcnow()
    for line, record, error in _records(path):
        if record is None:
            out.issues.append(RowIssue(str(path), line, "row", error))
            continue
        if record.get("tier") is None:
            out.unlabeled += 1
            continue
        problems = _problems(record, tiers)
        if problems:
            out.issues.extend(RowIssue(str(path), line, f, m) for f, m in problems)
            continue
        request_id = record.get("request_id")
        text = redact(str(record["text"]).strip()) if record.get("text") is not None else None
        key = f"id:{request_id}" if request_id is not None else f"text:{normalize_text(text or '')}"
        tier = str(record["tier"])
        label = FeedbackRecord(
            tier=tier, request_id=request_id, text=text, source=IMPORT_SOURCE, created_at=now
        )
        earlier = seen.add(key, tier, (label, line))
        if earlier is not None:
            first, first_line = earlier
            out.issues.append(
                RowIssue(
                    str(path),
                    line,
                    "tier",
                    f"labeled {tier!r} here but {first.tier!r} at line {first_line}",
                )
            )
    for label, line in seen.kept():
        out.records.append(label)
        out.lines.append(line)
    out.duplicates = seen.duplicates
    return out


def import_labels(
    engine: Engine, path: Path, tiers: Collection[str], *, skip_invalid: bool = False
) -> LabelImport:
    """Validate ``path`` against ``tiers`` and the log's request ids, then store its labels.

    Raises ValidationFailed listing every bad row unless ``skip_invalid``; stores all valid rows
    in one transaction.
    """
    parsed = read_label_file(path, tiers)
    if not parsed.records and not parsed.issues and not parsed.unlabeled:
        raise DataError(f"{path}: no label rows")
    known = existing_request_ids(engine, [r.request_id for r in parsed.records if r.request_id])
    kept: list[FeedbackRecord] = []
    for label, line in zip(parsed.records, parsed.lines, strict=True):
        if label.request_id is not None and label.request_id not in known:
            parsed.issues.append(
                RowIssue(str(path), line, "request_id", f"no logged request {label.request_id!r}")
            )
        else:
            kept.append(label)
    issues = sorted(parsed.issues, key=lambda issue: issue.line)
    if issues and not skip_invalid:
        raise ValidationFailed(issues)
    stored = store_labels(engine, kept)
    return LabelImport(
        stored=stored,
        by_request=sum(r.request_id is not None for r in kept),
        by_text=sum(r.request_id is None for r in kept),
        tiers=dict(sorted(Counter(r.tier for r in kept).items())),
        duplicates=parsed.duplicates,
        skipped=issues,
        unlabeled=parsed.unlabeled,
    )
