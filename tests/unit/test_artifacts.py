import json
import shutil
from pathlib import Path

import pytest

from tierroute import load_model
from tierroute.classifier.artifacts import (
    ARTIFACT_NAME,
    CARD_NAME,
    EVAL_SET_NAME,
    champion_id,
    list_models,
    set_champion,
)
from tierroute.exceptions import IntegrityError, ModelNotFound, VersionMismatch


@pytest.fixture
def model_copy(small_models_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(small_models_dir, root)
    return root


def test_round_trip_card_and_predictions(model_copy: Path) -> None:
    model = load_model(model_copy)
    card = json.loads((model_copy / model.model_id / CARD_NAME).read_text())
    assert card["model_id"] == model.model_id == champion_id(model_copy)
    assert card["tiers"] == list(model.tiers)
    assert len(card["artifact_sha256"]) == 64
    for key in ("scikit-learn", "numpy", "scipy", "joblib"):
        assert key in card["library_versions"]
    assert card["training_data"]["counts"]["tier"]
    assert {"model", "heuristic"} <= set(card["metrics"])
    assert (model_copy / model.model_id / EVAL_SET_NAME).is_file()
    again = load_model(model_copy / model.model_id)
    text = "where is my parcel, it's been a week"
    assert again.predict(text) == model.predict(text)


def test_tampered_artifact_is_refused_before_unpickling(model_copy: Path) -> None:
    model_dir = model_copy / champion_id(model_copy)  # type: ignore[operator]
    with (model_dir / ARTIFACT_NAME).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(IntegrityError, match="sha256"):
        load_model(model_dir)


def test_other_library_versions_are_refused(model_copy: Path) -> None:
    model_dir = model_copy / champion_id(model_copy)  # type: ignore[operator]
    card = json.loads((model_dir / CARD_NAME).read_text())
    card["library_versions"]["scikit-learn"] = "0.0.1"
    (model_dir / CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(VersionMismatch, match=r"scikit-learn 0\.0\.1"):
        load_model(model_dir)


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="tierroute train"):
        load_model(tmp_path)
    with pytest.raises(ModelNotFound):
        set_champion(tmp_path, "nope")


def test_list_models(model_copy: Path) -> None:
    assert [c.model_id for c in list_models(model_copy)] == [champion_id(model_copy)]
