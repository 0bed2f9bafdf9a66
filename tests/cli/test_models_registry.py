"""Every champion move goes through the model registry: `train`, `models promote/rollback`."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.model_versions import clone_model, models_root_copy
from tierroute.classifier.artifacts import champion_id
from tierroute.classifier.registry import ChangeAction, ModelRegistry
from tierroute.cli import app

runner = CliRunner()


def run(args: Sequence[object], code: int = 0) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def root(small_models_dir: Path, tmp_path: Path) -> Path:
    """A private copy of a models root whose champion `tierroute train` made."""
    return models_root_copy(small_models_dir, tmp_path / "models")


def test_train_records_its_promotion_and_rollback_returns_to_the_previous_model(
    root: Path,
) -> None:
    first = champion_id(root)
    clone_model(root, "m-second")  # a second version on disk
    out = run(["models", "promote", "m-second", "--models", root, "--reason", "try it"])
    assert "champion is now" in out and champion_id(root) == "m-second"
    out = run(["models", "rollback", "--models", root])
    assert champion_id(root) == first
    actions = [(c.action, c.champion) for c in ModelRegistry(root).history()]
    assert actions[-2:] == [(ChangeAction.PROMOTE, "m-second"), (ChangeAction.ROLLBACK, first)]
    # `tierroute train` (the fixture's champion) went through the registry: it is in the history.
    assert actions[0] == (ChangeAction.PROMOTE, first)
    assert ModelRegistry(root).history()[0].reason == "tierroute train"


def test_models_promote_refuses_a_path_outside_the_root(root: Path) -> None:
    before = champion_id(root)
    assert before is not None
    shutil.copytree(root / before, root.parent / "elsewhere" / "m-outside")  # a real model
    out = run(["models", "promote", "../elsewhere/m-outside", "--models", root], code=4)
    assert "not a model id" in out
    assert champion_id(root) == before
