"""From class probabilities to a routing decision: optional cost matrix, threshold, fallback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import mul
from typing import Any, NamedTuple


class Decision(NamedTuple):
    """A routing decision for one query (a named tuple: immutable and cheap to build per request)."""

    tier: str
    confidence: float
    probabilities: dict[str, float]
    fallback: bool
    reason: str
    model_id: str
    predicted_tier: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the CLI and the service print)."""
        return {
            "tier": self.tier,
            "confidence": round(self.confidence, 6),
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "fallback": self.fallback,
            "reason": self.reason,
            "model_id": self.model_id,
        }


@dataclass(frozen=True)
class DecisionPolicy:
    """How probabilities become a tier.

    ``cost_matrix[i][j]`` is the cost of routing a query of ``tiers[i]`` to ``tiers[j]``; when set,
    the tier with the least expected cost wins instead of the most probable one, so that
    under-routing (quality loss) can weigh more than over-routing (money). When the top
    probability is below ``threshold`` the decision falls back to ``default_tier``.
    """

    tiers: tuple[str, ...]
    threshold: float
    default_tier: str
    cost_matrix: tuple[tuple[float, ...], ...] | None = None
    _columns: tuple[tuple[float, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.default_tier not in self.tiers:
            raise ValueError(f"default tier {self.default_tier!r} is not one of {self.tiers}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold {self.threshold} is outside [0, 1]")
        columns: tuple[tuple[float, ...], ...] = ()
        if self.cost_matrix is not None:
            size = len(self.tiers)
            if len(self.cost_matrix) != size or any(len(r) != size for r in self.cost_matrix):
                raise ValueError(f"cost matrix must be {size}x{size}")
            columns = tuple(tuple(row[j] for row in self.cost_matrix) for j in range(size))
        object.__setattr__(self, "_columns", columns)

    def choose(self, proba: Sequence[float]) -> tuple[int, bool]:
        """(index of the chosen tier, whether its probability is below the threshold)."""
        if self._columns:
            costs = [sum(map(mul, column, proba)) for column in self._columns]
            index = costs.index(min(costs))
        else:
            index = list(proba).index(max(proba))
        return index, proba[index] < self.threshold

    def decide(self, proba: Sequence[float], model_id: str, known_features: int = 1) -> Decision:
        """Turn one row of Python floats (in ``tiers`` order) into a ``Decision``.

        ``confidence`` is the probability of the tier the model chose (before any fallback).
        ``known_features=0`` (no feature of the text was seen in training: empty, whitespace,
        emoji, an unseen script) sends the text to the default tier with confidence 0.
        """
        index, low = self.choose(proba)
        probabilities = dict(zip(self.tiers, proba, strict=True))
        predicted = self.tiers[index]
        if known_features <= 0:
            reason = f"no feature known to the model: fallback to {self.default_tier}"
            return Decision(
                self.default_tier, 0.0, probabilities, True, reason, model_id, predicted
            )
        confidence = proba[index]
        if low:
            reason = (
                f"confidence {confidence:.3f} in {predicted} below threshold "
                f"{self.threshold:.3f}: fallback to {self.default_tier}"
            )
            return Decision(
                self.default_tier, confidence, probabilities, True, reason, model_id, predicted
            )
        if self._columns and confidence != max(proba):
            reason = f"least expected cost: {predicted} (cost matrix outweighs the top class)"
        else:
            reason = f"top class {predicted} with confidence {confidence:.3f}"
        return Decision(predicted, confidence, probabilities, False, reason, model_id, predicted)
