"""tierroute: route each LLM query to the cheapest model tier that answers it well."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from tierroute.classifier.decision import Decision
    from tierroute.classifier.model import TierModel

__all__ = ["Decision", "TierModel", "__version__", "load_model"]
__version__ = "0.1.0"

# Loaded on first use, not at import: `import tierroute` (and so `tierroute --help`) must not
# pay for scikit-learn.
_LAZY = {
    "Decision": "tierroute.classifier.decision",
    "TierModel": "tierroute.classifier.model",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tierroute' has no attribute {name!r}")


def load_model(path: str | Path | None = None) -> TierModel:
    """A verified model from a model directory or models root; None: the configured root's champion.

    This is an edge: the models root comes from ``TIERROUTE_MODELS_DIR`` (default ``models/``).
    """
    from tierroute.classifier.model import load_model as load_verified
    from tierroute.config import get_settings

    return load_verified(path if path is not None else get_settings().models_dir)
