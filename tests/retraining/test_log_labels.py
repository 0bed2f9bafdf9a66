"""Log queries and bulk labels on real databases: SQLite and (marked postgres) PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.learning import Log, log_traffic, write_label_file
from tierroute.data.io import read_labeled
from tierroute.data.schema import LabeledRow
from tierroute.exceptions import DataError, ValidationFailed
from tierroute.retraining.export import export_logs
from tierroute.retraining.label_file import import_labels
from tierroute.store import FeedbackRecord, LogWriter, get_feedback, utcnow
from tierroute.store.labels import existing_request_ids, labels_since, logged_rows
from tierroute.tiers import DEFAULT_TIERS


def rows(*texts: str, tier: str = "simple_faq") -> list[LabeledRow]:
    return [LabeledRow(text, tier, "test", "en") for text in texts]


def api_label(log: Log, request_id: str, tier: str) -> None:
    """A label the way POST /v1/feedback stores it (through the request log's writer)."""
    writer = LogWriter(log.engine)
    writer.start()
    writer.add_feedback(FeedbackRecord(tier=tier, request_id=request_id)).result(timeout=10)
    writer.close()


def test_export_joins_each_request_with_its_latest_label(log: Log, tmp_path: Path) -> None:
    ids = log_traffic(
        log.engine, rows("Where is my order?", "Viết hàm python đảo chuỗi", "Hello there")
    )
    api_label(log, ids[0], "moderate_conv")
    labels = write_label_file(
        tmp_path / "labels.jsonl",
        [
            {"request_id": ids[0], "tier": "simple_faq"},  # later than the API label: wins
            {"request_id": ids[1], "tier": "code_gen"},
            {"text": "Email me at an@example.com about invoices", "tier": "simple_faq"},
        ],
    )
    imported = import_labels(log.engine, labels, DEFAULT_TIERS)
    assert (imported.stored, imported.by_request, imported.by_text) == (3, 2, 1)

    out = tmp_path / "out" / "logs.jsonl"
    summary = export_logs(log.engine, utcnow() - timedelta(days=7), out)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert summary.rows == len(lines) == 4
    assert (summary.labeled, summary.bare_labels) == (3, 1)
    first, second, third, bare = lines
    assert first["request_id"] == ids[0] and first["tier"] == "simple_faq"
    assert first["label_source"] == "import" and first["routed_tier"] == "moderate_conv"
    assert second["tier"] == "code_gen" and second["lang"] == "vi"
    assert third["tier"] is None and third["label_source"] is None
    assert bare["request_id"] is None and bare["routed_tier"] is None
    assert list(bare) == list(first)  # a bare label's line has every key, in the same order
    assert bare["text"] == "Email me at [EMAIL] about invoices"  # redacted before it is stored
    assert first["created_at"].endswith("Z")


def test_labeled_only_export_is_a_valid_labeled_data_file(log: Log, tmp_path: Path) -> None:
    ids = log_traffic(log.engine, rows("Where is my order?", "Track parcel 12", "Hi"))
    api_label(log, ids[2], "simple_faq")
    out = tmp_path / "labeled.jsonl"
    summary = export_logs(log.engine, utcnow() - timedelta(days=1), out, labeled_only=True)
    assert summary.rows == 1
    loaded = read_labeled([out])  # raises on any invalid row
    assert [(r.text, r.tier, r.source) for r in loaded.rows] == [
        ("Hi", "simple_faq", "request-log")
    ]


def test_since_limits_export_and_labels(log: Log, tmp_path: Path) -> None:
    old = log_traffic(
        log.engine, rows("an old question?"), start=utcnow() - timedelta(days=40), prefix="old"
    )
    new = log_traffic(log.engine, rows("a new question?"), prefix="new")
    api_label(log, old[0], "simple_faq")
    api_label(log, new[0], "moderate_conv")
    recent = labels_since(log.engine, utcnow() - timedelta(days=30))
    assert [(lb.request_id, lb.tier) for lb in recent] == [(new[0], "moderate_conv")]
    everything = labels_since(log.engine, utcnow() - timedelta(days=60))
    assert [lb.request_id for lb in everything] == [old[0], new[0]]
    assert everything[0].observed_at < everything[1].observed_at
    exported = list(logged_rows(log.engine, utcnow() - timedelta(days=30)))
    assert [r.request_id for r in exported] == [new[0]]


def test_labels_since_returns_every_label_with_the_logged_text(log: Log) -> None:
    ids = log_traffic(log.engine, rows("Đổi mật khẩu thế nào?"))
    api_label(log, ids[0], "moderate_conv")
    api_label(log, ids[0], "simple_faq")
    labels = labels_since(log.engine, utcnow() - timedelta(days=1))
    assert [lb.tier for lb in labels] == ["moderate_conv", "simple_faq"]
    assert {lb.text for lb in labels} == {"Đổi mật khẩu thế nào?"}
    assert existing_request_ids(log.engine, [ids[0], "nope"]) == {ids[0]}


def test_bad_label_rows_are_reported_by_line_and_field_and_nothing_is_stored(
    log: Log, tmp_path: Path
) -> None:
    ids = log_traffic(log.engine, rows("Where is my order?", "Refund please"))
    path = tmp_path / "labels.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"request_id": ids[0], "tier": "simple_faq"}),
                json.dumps({"request_id": ids[1], "tier": "expensive"}),
                "{not json",
                json.dumps({"tier": "code_gen"}),
                json.dumps({"request_id": "never-logged", "tier": "code_gen"}),
                json.dumps({"text": "  ", "tier": "code_gen"}),
                json.dumps({"request_id": ids[0], "tier": "code_gen"}),
                json.dumps(["a list"]),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationFailed) as caught:
        import_labels(log.engine, path, DEFAULT_TIERS)
    found = {(issue.line, issue.field) for issue in caught.value.issues}
    assert found == {
        (2, "tier"),
        (3, "row"),
        (4, "request_id"),
        (5, "request_id"),
        (6, "text"),
        (7, "tier"),  # the same request labeled two ways in one file
        (8, "row"),
    }
    assert "never-logged" in str(caught.value)
    assert get_feedback(log.engine) == []

    # With skip_invalid the valid rows are stored (the conflicting pair is not) and the rest is
    # still reported.
    result = import_labels(log.engine, path, DEFAULT_TIERS, skip_invalid=True)
    assert result.stored == 0
    assert len(result.skipped) == 7


def test_skip_invalid_keeps_valid_rows_and_merges_duplicates(log: Log, tmp_path: Path) -> None:
    ids = log_traffic(log.engine, rows("Where is my order?", "Refund please"))
    path = write_label_file(
        tmp_path / "labels.jsonl",
        [
            {"request_id": ids[0], "tier": "simple_faq", "note": "ignored extra field"},
            {"request_id": ids[0], "tier": "simple_faq"},
            {"request_id": ids[1], "tier": "nope"},
            {"text": "Viết regex kiểm tra email", "tier": "code_gen"},
        ],
    )
    result = import_labels(log.engine, path, DEFAULT_TIERS, skip_invalid=True)
    assert (result.stored, result.duplicates) == (2, 1)
    assert [(i.line, i.field) for i in result.skipped] == [(3, "tier")]
    stored = get_feedback(log.engine)
    assert {(r["request_id"], r["tier"], r["source"]) for r in stored} == {
        (ids[0], "simple_faq", "import"),
        (None, "code_gen", "import"),
    }


def test_csv_label_files(sqlite_log: Log, tmp_path: Path) -> None:
    ids = log_traffic(sqlite_log.engine, rows("Where is my order?"))
    path = tmp_path / "labels.csv"
    path.write_text(
        f"request_id,text,tier\n{ids[0]},,simple_faq\n,write a sql join,code_gen\n,,code_gen\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationFailed) as caught:
        import_labels(sqlite_log.engine, path, DEFAULT_TIERS)
    assert [(i.line, i.field) for i in caught.value.issues] == [(4, "request_id")]
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("query,label\nx,code_gen\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="header"):
        import_labels(sqlite_log.engine, bad_header, DEFAULT_TIERS)


def test_empty_or_missing_label_file_is_an_error(sqlite_log: Log, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="no label rows"):
        import_labels(sqlite_log.engine, empty, DEFAULT_TIERS)
    with pytest.raises(DataError, match="no such file"):
        import_labels(sqlite_log.engine, tmp_path / "missing.jsonl", DEFAULT_TIERS)
