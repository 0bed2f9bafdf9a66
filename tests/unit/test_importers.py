import json
import os
from pathlib import Path

import pytest

from tierroute.data.importers import dolly_tier, import_clinc150, import_dataset
from tierroute.exceptions import DataError

SHARED = Path(
    os.environ.get(
        "TIERROUTE_SHARED_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets"
    )
)


def make_clinc(root: Path) -> Path:
    folder = root / "clinc150"
    folder.mkdir()
    data = {
        "train": [["what's my balance", "balance"], ["book a flight", "book_flight"]],
        "val": [["what's my balance", "balance"]],
        "oos_train": [["why is the sky blue", "oos"]],
    }
    (folder / "data_full.json").write_text(json.dumps(data))
    return folder


def test_clinc_in_scope_is_simple_faq_oos_and_duplicates_are_counted(tmp_path: Path) -> None:
    result = import_dataset("clinc150", make_clinc(tmp_path))
    assert sorted(r.text for r in result.rows) == ["book a flight", "what's my balance"]
    assert {r.tier for r in result.rows} == {"simple_faq"}
    assert result.skipped["oos (out-of-scope, no tier)"] == 1
    assert result.skipped["duplicate text"] == 1


def test_instruction_and_input_are_joined_for_code_alpaca(tmp_path: Path) -> None:
    folder = tmp_path / "ca"
    folder.mkdir()
    (folder / "code_alpaca_2k.json").write_text(
        json.dumps(
            [
                {"instruction": "Sort the list", "input": "[3, 1]", "output": ""},
                {"instruction": "Say hi in JS", "input": "", "output": ""},
            ]
        )
    )
    rows = import_dataset("code_alpaca", folder).rows
    assert [r.text for r in rows] == ["Sort the list\n\n[3, 1]", "Say hi in JS"]
    assert {r.tier for r in rows} == {"code_gen"}


def test_dolly_rows_split_by_policy(tmp_path: Path) -> None:
    folder = tmp_path / "dolly"
    folder.mkdir()
    lines = [
        {"text": "### Human: Who wrote Hamlet? ### Assistant: Shakespeare."},
        {"text": "### Human: Why do leaves change colour in autumn? ### Assistant: ..."},
        {"text": "garbage without markers"},
    ]
    (folder / "chinkara-open_qa.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    result = import_dataset("dolly_open_qa", folder)
    assert {r.text: r.tier for r in result.rows} == {
        "Who wrote Hamlet?": "simple_faq",
        "Why do leaves change colour in autumn?": "moderate_conv",
    }
    assert sum(result.skipped.values()) == 1


def test_dolly_tier_rule() -> None:
    assert dolly_tier("How many strings does a violin have?") == "simple_faq"
    assert dolly_tier("How do I get rid of mosquitos?") == "moderate_conv"
    assert dolly_tier("Which is better for a beginner, guitar or piano and why?") == "moderate_conv"


@pytest.mark.parametrize(
    ("question", "tier"),
    [
        # "what" + a noun + a fact verb asks for one fact
        ("What painter was born in the village of Harlowmere?", "simple_faq"),
        ("What board game did the Velstad brothers invent?", "simple_faq"),
        ("In chess, what piece moves only diagonally?", "simple_faq"),
        # a statement to complete is a factoid without a question mark
        ("The tallest tower of Orvania was designed by", "simple_faq"),
        ("The Quillon Prize 2019 was given to whom?", "simple_faq"),
        # "best known for" names a fact; "best" alone asks for an opinion
        ("Which town is best known for its lantern festival?", "simple_faq"),
        ("Which town has the best lantern festival?", "moderate_conv"),
        # open lists, needs and effectiveness stay open questions
        ("Name a few well-known glass artists and their styles.", "moderate_conv"),
        ("What gear do you need for winter camping?", "moderate_conv"),
        ("What did the Romans believe about dreams and why?", "moderate_conv"),
    ],
)
def test_dolly_tier_shapes_of_one_fact(question: str, tier: str) -> None:
    assert dolly_tier(question) == tier


def test_limit_is_deterministic_per_tier(tmp_path: Path) -> None:
    folder = tmp_path / "gsm"
    folder.mkdir()
    (folder / "train.jsonl").write_text(
        "\n".join(json.dumps({"question": f"q {i}?", "answer": "#### 1"}) for i in range(30))
    )
    first = import_dataset("gsm8k", folder, limit=5)
    assert len(first.rows) == 5
    assert first.rows == import_dataset("gsm8k", folder, limit=5).rows
    assert first.skipped["over --limit 5 (complex_reasoning)"] == 25


def test_unknown_dataset_and_wrong_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown dataset"):
        import_dataset("imagenet", tmp_path)
    with pytest.raises(DataError, match="no such file"):
        import_dataset("gsm8k", tmp_path)


@pytest.mark.skipif(
    not SHARED.is_dir() and os.environ.get("CI") != "true", reason="public datasets not present"
)
def test_real_public_datasets_import_with_expected_counts() -> None:
    counts = {
        name: len(import_dataset(name, SHARED / name).rows) for name in ("gsm8k", "code_alpaca")
    }
    assert counts == {"gsm8k": 7473, "code_alpaca": 2017}
    gpteacher = import_dataset("gpteacher", SHARED / "gpteacher")
    assert {r.source for r in gpteacher.rows} == {"gpteacher-codegen", "gpteacher-roleplay"}
    clinc = import_dataset("clinc150", SHARED / "clinc150")
    assert clinc.skipped["oos (out-of-scope, no tier)"] == 1200
    assert len(clinc.rows) + clinc.skipped["duplicate text"] == 22500


def test_clinc_small_talk_and_translate_are_moderate_conv(tmp_path: Path) -> None:
    folder = tmp_path / "clinc150"
    folder.mkdir()
    data = {
        "train": [
            ["say something funny please", "tell_joke"],
            ["how would i say goodbye in french", "translate"],
            ["got any animals at home", "do_you_have_pets"],
            ["good morning to you", "greeting"],
            ["is there a fee on my card", "card_fees"],
        ],
        "test": [["what gets you going on weekends", "what_are_your_hobbies"]],
    }
    (folder / "data_full.json").write_text(json.dumps(data))
    tiers = {r.text: r.tier for r in import_dataset("clinc150", folder).rows}
    assert tiers == {
        "say something funny please": "moderate_conv",
        "how would i say goodbye in french": "moderate_conv",
        "got any animals at home": "moderate_conv",
        "good morning to you": "simple_faq",
        "is there a fee on my card": "simple_faq",
        "what gets you going on weekends": "moderate_conv",
    }
    test_only = import_clinc150(folder, splits={"test"}).rows
    assert [r.text for r in test_only] == ["what gets you going on weekends"]
