"""Project rows and public rows pooled: project labels win, public-public conflicts drop out."""

import json
from pathlib import Path

from tierroute.data.pool import load_public, merge_pool
from tierroute.data.schema import LabeledRow


def row(text: str, tier: str, source: str) -> LabeledRow:
    return LabeledRow(text=text, tier=tier, source=source, lang="en")


def test_project_labels_win_and_every_conflict_is_reported() -> None:
    project = [row("Tell me a joke", "moderate_conv", "tierroute-handwritten")]
    public = [
        row("tell me a joke!", "simple_faq", "clinc150"),
        row("tell me a joke", "simple_faq", "clinc150"),
        row("why is the sky blue", "simple_faq", "clinc150"),
        row("Why is the sky blue", "moderate_conv", "dolly_open_qa"),
        row("why is the sky BLUE", "simple_faq", "other"),
        row("book a flight", "simple_faq", "clinc150"),
        row("Book a flight", "simple_faq", "dolly_open_qa"),
        row("TELL ME A JOKE", "moderate_conv", "dolly_open_qa"),
    ]
    pool = merge_pool(project, public)
    texts = {r.text: r for r in pool.rows}
    # "tell me a joke!" normalizes differently (punctuation kept): an ordinary public row.
    assert set(texts) == {"Tell me a joke", "tell me a joke!", "book a flight"}
    assert texts["Tell me a joke"].tier == "moderate_conv"
    assert pool.public_rows == 2 and pool.duplicates == 3
    kept = [c for c in pool.conflicts if c.kept_source == "tierroute-handwritten"]
    assert [(c.dropped_tier, c.dropped_source) for c in kept] == [("simple_faq", "clinc150")]
    dropped = [c for c in pool.conflicts if c.kept_source is None]
    assert {(c.dropped_tier, c.dropped_source) for c in dropped} == {
        ("simple_faq", "clinc150"),
        ("moderate_conv", "dolly_open_qa"),
    }
    assert pool.conflict_counts() == {
        "left out <- clinc150": 1,
        "left out <- dolly_open_qa": 1,
        "tierroute-handwritten <- clinc150": 1,
    }


def test_public_rows_come_from_dataset_folders_or_imported_files(tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    (datasets / "clinc150").mkdir(parents=True)
    (datasets / "clinc150" / "data_full.json").write_text(
        json.dumps({"train": [["what's my balance", "balance"], ["play jazz", "play_music"]]})
    )
    (datasets / "gsm8k").mkdir()
    (datasets / "gsm8k" / "train.jsonl").write_text(
        json.dumps({"question": "Tom has 3 apples and buys 4 more bags of 5. How many?"}) + "\n"
    )
    from_root = load_public([datasets])
    assert {(r.source, r.tier) for r in from_root} == {
        ("clinc150", "simple_faq"),
        ("gsm8k", "complex_reasoning"),
    }
    assert len(load_public([datasets / "clinc150"], limit=1)) == 1
    imported = tmp_path / "clinc.jsonl"
    imported.write_text(
        json.dumps({"text": "what's my balance", "tier": "simple_faq", "source": "clinc150"}) + "\n"
    )
    assert [r.text for r in load_public([imported])] == ["what's my balance"]
