"""tierroute: route each LLM query to the cheapest model tier that answers it well."""

from __future__ import annotations

from tierroute.classifier.decision import Decision
from tierroute.classifier.model import TierModel, load_model

__all__ = ["Decision", "TierModel", "__version__", "load_model"]
__version__ = "0.1.0"
