"""The write-up's keyword heuristic, kept faithfully as the baseline every model must beat.

Wrapped as a scikit-learn classifier (``fit`` returns self, ``classes_`` orders the
``predict_proba`` columns) so that one ``evaluate()`` scores it and the learned models alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin

from tierroute.tiers import CODE_GEN, COMPLEX_REASONING, DEFAULT_TIERS, MODERATE_CONV, SIMPLE_FAQ

CODE_KEYWORDS = (
    "function",
    "code",
    "python",
    "javascript",
    "api",
    "class",
    "def ",
    "import ",
    "=>",
    "()",
)
REASONING_KEYWORDS = (
    "analyze",
    "compare",
    "strategy",
    "evaluate",
    "deep ",
    "thorough",
    "comprehensive",
    "detailed",
)
FAQ_KEYWORDS = ("what is", "how to", "where", "when", "faq", "help", "support", "?")
LONG_QUERY_CHARS = 1500
SHORT_QUERY_CHARS = 200


def heuristic_tier(query: str) -> str:
    """The write-up's rules in their order: code, then reasoning or long, then short FAQ, else moderate."""
    lowered = query.lower()
    if any(keyword in lowered for keyword in CODE_KEYWORDS):
        return CODE_GEN
    if any(keyword in lowered for keyword in REASONING_KEYWORDS) or len(query) > LONG_QUERY_CHARS:
        return COMPLEX_REASONING
    if any(keyword in lowered for keyword in FAQ_KEYWORDS) and len(query) < SHORT_QUERY_CHARS:
        return SIMPLE_FAQ
    return MODERATE_CONV


class KeywordHeuristic(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Estimator face of ``heuristic_tier``: one-hot probabilities, nothing learned."""

    def __init__(self, tiers: Sequence[str] = DEFAULT_TIERS) -> None:
        self.tiers = tiers

    def fit(self, X: Iterable[str], y: Iterable[str] | None = None) -> KeywordHeuristic:
        """Nothing to learn; records the class order."""
        self.classes_ = np.array(list(self.tiers))
        return self

    def predict(self, X: Iterable[str]) -> NDArray[Any]:
        """The heuristic's tier for each text."""
        return np.array([heuristic_tier(text) for text in X])

    def predict_proba(self, X: Iterable[str]) -> NDArray[np.float64]:
        """One-hot rows in ``classes_`` order (the heuristic is always certain)."""
        index = {tier: i for i, tier in enumerate(self.classes_)}
        predicted = self.predict(X)
        proba = np.zeros((len(predicted), len(self.classes_)))
        for row, tier in enumerate(predicted):
            proba[row, index[tier]] = 1.0
        return proba
