"""Read and write labeled data files (JSONL and CSV), reporting every bad row by file and line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tierroute.data.first_labels import FirstLabels
from tierroute.data.schema import LabeledRow, check_fields, guess_lang, normalize_text
from tierroute.exceptions import DataError, RowIssue, ValidationFailed
from tierroute.output_files import atomic_text_writer
from tierroute.text_input import read_utf8, utf8_lines
from tierroute.tiers import DEFAULT_TIERS

DATA_SUFFIXES = (".jsonl", ".csv")


@dataclass
class LoadResult:
    """Valid rows plus everything that was skipped or merged, and why."""

    rows: list[LabeledRow]
    issues: list[RowIssue] = field(default_factory=list)
    duplicates: int = 0
    files: list[Path] = field(default_factory=list)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus every .jsonl/.csv file (sorted) inside named directories."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in DATA_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or directory")
    if not files:
        raise DataError(f"no .jsonl or .csv files in {', '.join(map(str, paths))}")
    return files


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line, record or None, error) for each non-blank JSONL line or CSV row of one file."""
    if path.suffix == ".csv":
        reader = csv_reader(path)
        missing = {"text", "tier"} - set(reader.fieldnames or [])
        if missing:
            yield 1, None, f"CSV header lacks column(s) {sorted(missing)}"
            return
        for row in reader:
            yield reader.line_num, dict(row), ""
        return
    for number, line in utf8_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"bad JSON: {exc.msg} at column {exc.colno}"
            continue
        if not isinstance(record, dict):
            yield number, None, "bad JSON: expected an object"
            continue
        yield number, record, ""


def csv_reader(path: Path) -> csv.DictReader[str]:
    """A CSV reader over the file's text (checked to be UTF-8 first)."""
    return csv.DictReader(io.StringIO(read_utf8(path), newline=""))


def read_labeled(
    paths: Sequence[Path],
    tiers: Collection[str] = DEFAULT_TIERS,
    *,
    skip_invalid: bool = False,
) -> LoadResult:
    """Read labeled rows from files and directories.

    Exact duplicates (same normalized text, same tier) are merged and counted. A text seen with
    two different tiers is an error on both rows. Unless ``skip_invalid``, any issue raises
    ``ValidationFailed`` listing all of them; with it, bad rows are left out and reported.
    """
    files = expand_paths(paths)
    result = LoadResult(rows=[], files=files)
    seen: FirstLabels[LabeledRow] = FirstLabels()
    for path in files:
        for line, record, error in read_records(path):
            if record is None:
                result.issues.append(RowIssue(str(path), line, "row", error))
                continue
            problems = check_fields(record, tiers)
            if problems:
                for field_name, message in problems:
                    result.issues.append(RowIssue(str(path), line, field_name, message))
                continue
            text = str(record["text"]).strip()
            row = LabeledRow(
                text=text,
                tier=str(record["tier"]),
                source=str(record.get("source") or path.stem),
                lang=str(record.get("lang") or guess_lang(text)),
                file=str(path),
                line=line,
            )
            earlier = seen.add(normalize_text(text), row.tier, row)
            if earlier is not None:
                result.issues.append(
                    RowIssue(
                        str(path),
                        line,
                        "tier",
                        f"text labeled {row.tier!r} here but {earlier.tier!r} at "
                        f"{earlier.file}:{earlier.line}",
                    )
                )
    result.rows = seen.kept()
    result.duplicates = seen.duplicates
    if result.issues and not skip_invalid:
        raise ValidationFailed(result.issues)
    return result


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write dicts as UTF-8 JSONL (non-ASCII kept readable), atomically; returns the row count."""
    count = 0
    with atomic_text_writer(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_texts(path: Path) -> list[dict[str, Any]]:
    """Rows of an unlabeled JSONL (each with ``text``) or CSV (``text`` column) for classify."""
    rows: list[dict[str, Any]] = []
    issues: list[RowIssue] = []
    for line, record, error in _unlabeled_records(path):
        if record is None:
            issues.append(RowIssue(str(path), line, "row", error))
        elif not isinstance(record.get("text"), str) or not record["text"].strip():
            issues.append(RowIssue(str(path), line, "text", "missing, empty or not a string"))
        else:
            rows.append(record)
    if issues:
        raise ValidationFailed(issues)
    return rows


def _unlabeled_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".csv":
        reader = csv_reader(path)
        if "text" not in (reader.fieldnames or []):
            yield 1, None, "CSV header lacks column 'text'"
            return
        for row in reader:
            yield reader.line_num, dict(row), ""
        return
    yield from read_records(path)
