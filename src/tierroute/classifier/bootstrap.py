"""Make sure a champion model exists (a fresh clone trains its own in seconds)."""

from __future__ import annotations

import logging
from pathlib import Path

from tierroute.classifier.registry import ModelRegistry
from tierroute.classifier.train import train_model
from tierroute.data.io import read_labeled

logger = logging.getLogger(__name__)


def ensure_champion(models_dir: Path, data_dir: Path) -> Path:
    """The champion's directory, training the default model from ``data_dir`` first if needed."""
    current = ModelRegistry(models_dir).champion_id()
    if current is not None and (models_dir / current).is_dir():
        return models_dir / current
    logger.warning(
        "no champion model in %s: training the default model from %s", models_dir, data_dir
    )
    loaded = read_labeled([data_dir])
    result = train_model(loaded.rows, models_dir, data_files=[str(p) for p in loaded.files])
    release_workers()
    return result.model_dir


def release_workers() -> None:
    """Stop the worker processes training started (joblib keeps them for reuse otherwise).

    A server that trained at start-up must not leave them behind: they would idle beside it
    and outlive it.
    """
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
