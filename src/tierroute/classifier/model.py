"""``load_model``: a verified artifact plus its compiled predictor and decision policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tierroute.classifier.artifacts import ModelCard, load_artifact, resolve_model_dir
from tierroute.classifier.compiled import CompiledPredictor
from tierroute.classifier.decision import Decision, DecisionPolicy


class TierModel:
    """A trained tier classifier ready to route queries."""

    def __init__(self, estimator: Any, card: ModelCard, path: Path | None = None) -> None:
        self.estimator = estimator
        self.card = card
        self.path = path
        self.model_id = card.model_id
        self.compiled = CompiledPredictor(estimator)
        if list(self.compiled.classes) != card.tiers:
            raise ValueError(
                f"artifact classes {self.compiled.classes} differ from card {card.tiers}"
            )
        self.tiers: tuple[str, ...] = self.compiled.classes
        cost = tuple(tuple(row) for row in card.cost_matrix) if card.cost_matrix else None
        self.policy = DecisionPolicy(self.tiers, card.threshold, card.default_tier, cost)

    @property
    def threshold(self) -> float:
        """Confidence below which decisions fall back to the default tier."""
        return self.policy.threshold

    @property
    def default_tier(self) -> str:
        """Tier used when confidence is below the threshold."""
        return self.policy.default_tier

    def with_policy(
        self, threshold: float | None = None, default_tier: str | None = None
    ) -> TierModel:
        """A copy sharing the fitted model, with another threshold and/or default tier."""
        clone = object.__new__(TierModel)
        clone.__dict__.update(self.__dict__)
        clone.policy = replace(
            self.policy,
            threshold=self.policy.threshold if threshold is None else threshold,
            default_tier=self.policy.default_tier if default_tier is None else default_tier,
        )
        return clone

    def predict(self, text: str) -> Decision:
        """Route one query (compiled path, tens of microseconds)."""
        proba, _, known = self.compiled.predict_one(text)
        decision = self.policy.decide(proba, self.model_id, known)
        return _explain_empty(decision, text) if known == 0 else decision

    def predict_batch(self, texts: Sequence[str]) -> list[Decision]:
        """Route many queries (vectorised scikit-learn path)."""
        if not texts:
            return []
        proba = self.predict_proba(texts)
        _, known = self.estimator.feature_stats(list(texts))
        decisions = []
        for text, row, count in zip(texts, proba, known.tolist(), strict=True):
            decision = self.policy.decide(row.tolist(), self.model_id, count)
            decisions.append(_explain_empty(decision, text) if count == 0 else decision)
        return decisions

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Calibrated probabilities, columns in ``tiers`` order."""
        return np.asarray(self.estimator.predict_proba(list(texts)), dtype=np.float64)


def _explain_empty(decision: Decision, text: str) -> Decision:
    """Name the commonest featureless case plainly: nothing to classify at all."""
    if text.strip():
        return decision
    return decision._replace(reason=f"empty or whitespace-only text: fallback to {decision.tier}")


def load_model(path: str | Path) -> TierModel:
    """Load a verified model: a model directory, or a models root (its champion).

    Settings are the edges' business (``tierroute.load_model``, the CLI): nothing is read from
    the environment here.
    """
    model_dir = resolve_model_dir(Path(path))
    estimator, card = load_artifact(model_dir)
    return TierModel(estimator, card, model_dir)
