"""Champion pointer moves: promote, roll back, history beside the pointer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tierroute.classifier.artifacts import CARD_NAME, champion_id, set_champion
from tierroute.exceptions import ModelError, ModelNotFound
from tierroute.retraining.history import (
    history_path,
    previous_champion,
    promote,
    read_history,
    rollback,
)


def fake_models(root: Path, *ids: str) -> Path:
    for model_id in ids:
        (root / model_id).mkdir(parents=True)
        (root / model_id / CARD_NAME).write_text("{}", encoding="utf-8")
    return root


def test_promote_and_rollback_walk_the_history_back(tmp_path: Path) -> None:
    root = fake_models(tmp_path, "a", "b", "c")
    set_champion(root, "a")  # e.g. `tierroute train`, outside the history
    assert previous_champion(root) is None
    promote(root, "b", "gate passed")
    promote(root, "c", "gate passed")
    assert champion_id(root) == "c"
    assert previous_champion(root) == "b"

    change = rollback(root)
    assert (change.previous, change.champion) == ("c", "b")
    assert champion_id(root) == "b"
    assert rollback(root).champion == "a"
    assert champion_id(root) == "a"
    with pytest.raises(ModelNotFound, match="no previous champion"):
        rollback(root)
    actions = [(c.action, c.previous, c.champion) for c in read_history(root)]
    assert actions == [
        ("promote", "a", "b"),
        ("promote", "b", "c"),
        ("rollback", "c", "b"),
        ("rollback", "b", "a"),
    ]
    assert all((root / m).is_dir() for m in "abc")  # versions stay


def test_pointer_moved_outside_the_history_rolls_back_to_the_last_known(tmp_path: Path) -> None:
    root = fake_models(tmp_path, "a", "b", "c")
    promote(root, "a", "first")
    promote(root, "b", "second")
    set_champion(root, "c")  # a fresh `tierroute train`
    assert rollback(root).champion == "b"
    assert rollback(root).champion == "a"


def test_promoting_the_champion_again_changes_nothing(tmp_path: Path) -> None:
    root = fake_models(tmp_path, "a")
    assert promote(root, "a", "x") is not None
    assert promote(root, "a", "again") is None
    assert len(read_history(root)) == 1


def test_unknown_model_and_damaged_history_are_errors(tmp_path: Path) -> None:
    root = fake_models(tmp_path, "a")
    with pytest.raises(ModelNotFound):
        promote(root, "missing", "x")
    assert not history_path(root).exists()
    history_path(root).write_text(json.dumps({"at": "t"}) + "\n", encoding="utf-8")
    with pytest.raises(ModelError, match=":1:"):
        read_history(root)


def test_rollback_skips_deleted_versions(tmp_path: Path) -> None:
    root = fake_models(tmp_path, "a", "b", "c")
    for model_id in "abc":
        promote(root, model_id, "x")
    (root / "b" / CARD_NAME).unlink()
    assert previous_champion(root) == "a"
