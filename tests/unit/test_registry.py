"""The model registry: champion pointer moves (promote, roll back), the history, `latest`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tierroute.classifier.artifacts import CARD_NAME, champion_id, set_champion
from tierroute.classifier.registry import ModelRegistry
from tierroute.exceptions import ModelError, ModelNotFound


def fake_models(root: Path, *ids: str) -> Path:
    for model_id in ids:
        (root / model_id).mkdir(parents=True)
        (root / model_id / CARD_NAME).write_text("{}", encoding="utf-8")
    return root


def test_promote_and_rollback_walk_the_history_back(tmp_path: Path) -> None:
    root = fake_models(tmp_path, "a", "b", "c")
    set_champion(root, "a")  # e.g. `tierroute train`, outside the history
    assert ModelRegistry(root).previous_champion() is None
    ModelRegistry(root).promote("b", "gate passed")
    ModelRegistry(root).promote("c", "gate passed")
    assert champion_id(root) == "c"
    assert ModelRegistry(root).previous_champion() == "b"

    change = ModelRegistry(root).rollback()
    assert (change.previous, change.champion) == ("c", "b")
    assert champion_id(root) == "b"
    assert ModelRegistry(root).rollback().champion == "a"
    assert champion_id(root) == "a"
    with pytest.raises(ModelNotFound, match="no previous champion"):
        ModelRegistry(root).rollback()
    actions = [(c.action, c.previous, c.champion) for c in ModelRegistry(root).history()]
    assert actions == [
        ("promote", "a", "b"),
        ("promote", "b", "c"),
        ("rollback", "c", "b"),
        ("rollback", "b", "a"),
    ]
    assert all((root / m).is_dir() for m in "abc")  # versions stay


def test_pointer_moved_outside_the_history_rolls_back_to_the_last_known(tmp_path: Path) -> None:
    root = fake_models(tmp_path, "a", "b", "c")
    ModelRegistry(root).promote("a", "first")
    ModelRegistry(root).promote("b", "second")
    set_champion(root, "c")  # a fresh `tierroute train`
    assert ModelRegistry(root).rollback().champion == "b"
    assert ModelRegistry(root).rollback().champion == "a"


def test_promoting_the_champion_again_changes_nothing(tmp_path: Path) -> None:
    root = fake_models(tmp_path, "a")
    assert ModelRegistry(root).promote("a", "x") is not None
    assert ModelRegistry(root).promote("a", "again") is None
    assert len(ModelRegistry(root).history()) == 1


def test_unknown_model_and_damaged_history_are_errors(tmp_path: Path) -> None:
    root = fake_models(tmp_path, "a")
    with pytest.raises(ModelNotFound):
        ModelRegistry(root).promote("missing", "x")
    assert not ModelRegistry(root).history_path.exists()
    ModelRegistry(root).history_path.write_text(json.dumps({"at": "t"}) + "\n", encoding="utf-8")
    with pytest.raises(ModelError, match=":1:"):
        ModelRegistry(root).history()


def test_rollback_skips_deleted_versions(tmp_path: Path) -> None:
    root = fake_models(tmp_path, "a", "b", "c")
    for model_id in "abc":
        ModelRegistry(root).promote(model_id, "x")
    (root / "b" / CARD_NAME).unlink()
    assert ModelRegistry(root).previous_champion() == "a"


@pytest.mark.parametrize("model_id", ["../elsewhere/m-1", "/tmp/m-1", "sub/m-1", "..", ".", ""])
def test_promote_refuses_ids_outside_the_root(tmp_path: Path, model_id: str) -> None:
    root = fake_models(tmp_path / "models", "a")
    fake_models(tmp_path / "elsewhere", "m-1")  # a real model, but not under the root
    fake_models(tmp_path / "models" / "sub", "m-1")
    with pytest.raises(ModelError, match="not a model id"):
        ModelRegistry(root).promote(model_id, "x")
    assert champion_id(root) is None
    assert not ModelRegistry(root).history_path.exists()


def test_latest_is_the_newest_model_created_after_the_champion(tmp_path: Path) -> None:
    root = tmp_path
    for model_id, created in (
        ("old", "2026-01-01"),
        ("champ", "2026-01-02"),
        ("new", "2026-01-03"),
    ):
        (root / model_id).mkdir()
        card = {"model_id": model_id, "created": created, "tierroute_version": "0"}
        card |= {"library_versions": {}, "tiers": ["a"], "threshold": 0.5, "default_tier": "a"}
        (root / model_id / CARD_NAME).write_text(json.dumps(card), encoding="utf-8")
    registry = ModelRegistry(root)
    assert registry.latest() == "new"  # no champion yet: the newest of all
    registry.promote("champ", "x")
    assert registry.latest() == "new"
    assert registry.latest(after="new") is None
    registry.promote("new", "x")
    assert registry.latest() is None
    assert [card.model_id for card in registry.models()] == ["old", "champ", "new"]
