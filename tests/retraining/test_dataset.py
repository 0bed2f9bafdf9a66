"""Logged labels to training rows: latest label wins, conflicts reported, newest held out."""

from __future__ import annotations

from datetime import datetime, timedelta

from tierroute.data.schema import LabeledRow
from tierroute.retraining.dataset import merge_with_base, newest_holdout, resolve_labels
from tierroute.store.labels import LoggedLabel

T0 = datetime(2026, 1, 1)


def label(
    i: int, text: str | None, tier: str, minutes: int, seen: int | None = None
) -> LoggedLabel:
    at = T0 + timedelta(minutes=minutes)
    observed = T0 + timedelta(minutes=seen if seen is not None else minutes)
    return LoggedLabel(i, tier, text, f"r{i}", "api", at, observed)


def test_latest_label_wins_and_the_conflict_is_kept() -> None:
    resolved = resolve_labels(
        [
            label(1, "Where is  my ORDER?", "moderate_conv", 5),
            label(2, "where is my order?", "simple_faq", 9),  # same text once normalized
            label(3, "Viết hàm sắp xếp", "code_gen", 1),
            label(4, "Viet ham sap xep", "code_gen", 2),  # agrees: no conflict
            label(5, None, "code_gen", 3),  # the log kept no text
        ]
    )
    assert resolved.labels == 5 and resolved.without_text == 1
    tiers = {ex.row.text: ex.row.tier for ex in resolved.examples}
    assert tiers == {"where is my order?": "simple_faq", "Viet ham sap xep": "code_gen"}
    (conflict,) = resolved.conflicts
    assert conflict.winner == "simple_faq"
    assert conflict.labels[0].startswith("moderate_conv") and conflict.labels[1].startswith(
        "simple_faq"
    )
    assert "->" in conflict.describe()
    assert all(ex.row.source == "request-log" for ex in resolved.examples)


def test_same_time_labels_are_ordered_by_id() -> None:
    resolved = resolve_labels(
        [label(8, "x y z", "code_gen", 1), label(7, "x y z", "simple_faq", 1)]
    )
    assert resolved.examples[0].row.tier == "code_gen"


def test_newest_share_is_held_out_by_observation_time() -> None:
    resolved = resolve_labels([label(i, f"text {i}", "simple_faq", 0, seen=i) for i in range(10)])
    older, newest = newest_holdout(resolved.examples, 0.3)
    assert [ex.row.text for ex in newest] == ["text 7", "text 8", "text 9"]
    assert len(older) == 7
    assert newest_holdout(resolved.examples, 0.0)[1] == []


def test_logged_labels_override_the_base_and_conflicts_are_reported() -> None:
    base = [
        LabeledRow("What is your return policy?", "simple_faq", "raw", "en", "raw.jsonl", 3),
        LabeledRow("Summarize this article", "moderate_conv", "raw", "en", "raw.jsonl", 4),
        LabeledRow("Write a haiku", "moderate_conv", "raw", "en", "raw.jsonl", 5),
    ]
    logged = resolve_labels(
        [
            label(1, "what is your  Return policy?", "moderate_conv", 1),
            label(2, "write a HAIKU", "moderate_conv", 2),
            label(3, "Fix my SQL query", "code_gen", 3),
        ]
    ).examples
    merged = merge_with_base(base, logged)
    tiers = {row.text: row.tier for row in merged.rows}
    assert tiers == {
        "Summarize this article": "moderate_conv",
        "what is your  Return policy?": "moderate_conv",
        "write a HAIKU": "moderate_conv",
        "Fix my SQL query": "code_gen",
    }
    assert (merged.from_base, merged.from_log, merged.confirmed) == (1, 3, 1)
    (conflict,) = merged.conflicts
    assert "raw.jsonl:3" in conflict.labels[0] and conflict.winner == "moderate_conv"
