"""Versioned model artifacts: ``models/<model_id>/{model.joblib, card.json}`` and the champion.

Never unpickle what has not been verified: ``load_artifact`` checks the artifact's sha256 and
the library versions recorded in the card before ``joblib.load`` runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
from pydantic import BaseModel, ConfigDict

from tierroute.exceptions import IntegrityError, ModelError, ModelNotFound, VersionMismatch

ARTIFACT_NAME = "model.joblib"
CARD_NAME = "card.json"
EVAL_SET_NAME = "eval.jsonl"
CHAMPION_POINTER = "CHAMPION"
# Libraries whose pickled objects must be loaded by the exact version that wrote them.
PINNED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib")


class ModelCard(BaseModel):
    """Provenance and policy of one trained model (``card.json``)."""

    model_config = ConfigDict(extra="allow")

    model_id: str
    created: str
    tierroute_version: str
    library_versions: dict[str, str]
    tiers: list[str]
    threshold: float
    default_tier: str
    cost_matrix: list[list[float]] | None = None
    threshold_target: dict[str, Any] = {}
    hyperparameters: dict[str, Any] = {}
    training_data: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    artifact_sha256: str = ""


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries an artifact depends on (plus Python, informative)."""
    versions = {name: metadata.version(name) for name in PINNED_LIBRARIES}
    versions["python"] = platform.python_version()
    return versions


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def save_artifact(estimator: Any, card: ModelCard, models_dir: Path) -> Path:
    """Write ``models_dir/<model_id>/``; the card gets the artifact's sha256. Returns the dir."""
    model_dir = models_dir / card.model_id
    model_dir.mkdir(parents=True, exist_ok=True)
    artifact = model_dir / ARTIFACT_NAME
    joblib.dump(estimator, artifact)
    card.artifact_sha256 = sha256_file(artifact)
    _atomic_write_text(model_dir / CARD_NAME, card.model_dump_json(indent=2) + "\n")
    return model_dir


def read_card(model_dir: Path) -> ModelCard:
    """The model card of an artifact directory."""
    path = model_dir / CARD_NAME
    if not path.is_file():
        raise ModelNotFound(f"{model_dir}: no {CARD_NAME}; not a tierroute model directory")
    try:
        return ModelCard.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelError(f"{path}: unreadable model card: {exc}") from exc


def verify_artifact(model_dir: Path, card: ModelCard) -> None:
    """Refuse an artifact whose bytes or library versions differ from what its card records."""
    artifact = model_dir / ARTIFACT_NAME
    if not artifact.is_file():
        raise ModelNotFound(f"{model_dir}: no {ARTIFACT_NAME}")
    actual = sha256_file(artifact)
    if actual != card.artifact_sha256:
        raise IntegrityError(
            f"{artifact}: sha256 {actual[:16]}... does not match the model card's "
            f"{card.artifact_sha256[:16]}...; refusing to load a modified artifact"
        )
    installed = library_versions()
    wrong = {
        name: (card.library_versions.get(name), installed[name])
        for name in PINNED_LIBRARIES
        if card.library_versions.get(name) != installed[name]
    }
    if wrong:
        detail = ", ".join(
            f"{n} {built} (built) vs {now} (installed)" for n, (built, now) in wrong.items()
        )
        raise VersionMismatch(
            f"{model_dir}: built with other library versions: {detail}; retrain with "
            "`tierroute train` or install the recorded versions"
        )


def load_artifact(model_dir: Path) -> tuple[Any, ModelCard]:
    """Verified (estimator, card) of one model directory."""
    card = read_card(model_dir)
    verify_artifact(model_dir, card)
    return joblib.load(model_dir / ARTIFACT_NAME), card


def check_model_id(model_id: str, models_dir: Path) -> str:
    """``model_id`` if it names a directory directly under ``models_dir``; else ModelError.

    A model id is a name, never a path: ``../../elsewhere/ID`` must not move the champion
    outside the models root.
    """
    parts = Path(model_id).parts
    if len(parts) != 1 or model_id in (".", "..") or "/" in model_id or "\\" in model_id:
        raise ModelError(
            f"{model_id!r} is not a model id: give the name of a directory directly under "
            f"{models_dir} (see `tierroute models list`)"
        )
    return model_id


def champion_id(models_dir: Path) -> str | None:
    """Model id the champion pointer names, or None when there is no champion yet."""
    pointer = models_dir / CHAMPION_POINTER
    if not pointer.is_file():
        return None
    current = pointer.read_text(encoding="utf-8").strip() or None
    return None if current is None else check_model_id(current, models_dir)


def set_champion(models_dir: Path, model_id: str) -> None:
    """Point the champion at ``model_id`` atomically (older versions stay on disk)."""
    check_model_id(model_id, models_dir)
    if not (models_dir / model_id / CARD_NAME).is_file():
        raise ModelNotFound(f"{models_dir / model_id}: no such model")
    _atomic_write_text(models_dir / CHAMPION_POINTER, model_id + "\n")


def resolve_model_dir(path: Path) -> Path:
    """A model directory itself, or the champion of a models root."""
    if (path / CARD_NAME).is_file():
        return path
    current = champion_id(path)
    if current is None:
        raise ModelNotFound(
            f"{path}: neither a model directory nor a models root with a champion; "
            "run `tierroute train` first"
        )
    return path / current


def list_models(models_dir: Path) -> list[ModelCard]:
    """Cards of every model under ``models_dir``, oldest first."""
    if not models_dir.is_dir():
        return []
    cards = [read_card(p) for p in models_dir.iterdir() if (p / CARD_NAME).is_file()]
    return sorted(cards, key=lambda card: card.created)


def write_json(path: Path, data: Any) -> None:
    """Pretty JSON, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
