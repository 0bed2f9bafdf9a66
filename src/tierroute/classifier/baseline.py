"""The keyword heuristic behind the same ``predict`` interface as ``TierModel``."""

from __future__ import annotations

from collections.abc import Sequence

from tierroute.classifier.decision import Decision
from tierroute.classifier.heuristic import heuristic_tier
from tierroute.tiers import DEFAULT_TIERS

HEURISTIC_ID = "keyword-heuristic"


class HeuristicRouter:
    """Routes by the write-up's keyword rules; always certain, never falls back."""

    model_id = HEURISTIC_ID

    def __init__(self, tiers: Sequence[str] = DEFAULT_TIERS) -> None:
        self.tiers = tuple(tiers)

    def predict(self, text: str) -> Decision:
        """The heuristic's tier as a decision with confidence 1."""
        tier = heuristic_tier(text)
        probabilities = {t: 1.0 if t == tier else 0.0 for t in self.tiers}
        return Decision(tier, 1.0, probabilities, False, "keyword rules", HEURISTIC_ID, tier)

    def predict_batch(self, texts: Sequence[str]) -> list[Decision]:
        """Decisions for many texts."""
        return [self.predict(text) for text in texts]
