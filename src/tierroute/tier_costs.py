"""Per-tier price and traffic assumptions used to turn routing decisions into dollars.

The defaults are the write-up's own table (flat USD per million tokens applied to all tokens,
average tokens per request by task type) so its figures can be compared; the gateway and the
simulator can supply real input/output prices instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tierroute.tiers import CODE_GEN, COMPLEX_REASONING, MODERATE_CONV, SIMPLE_FAQ


@dataclass(frozen=True)
class TierCost:
    """What one request costs on a tier's model, given the request's token counts."""

    model: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        """USD for one request."""
        return (
            input_tokens * self.input_usd_per_mtok + output_tokens * self.output_usd_per_mtok
        ) / 1e6


@dataclass(frozen=True)
class TokenProfile:
    """Average tokens of a request of one (true) tier."""

    input_tokens: float
    output_tokens: float


WRITEUP_TIER_COSTS: Mapping[str, TierCost] = {
    SIMPLE_FAQ: TierCost("gemini-2.5-flash", 2.50, 2.50),
    MODERATE_CONV: TierCost("claude-sonnet-4.5", 15.00, 15.00),
    COMPLEX_REASONING: TierCost("gpt-4.1", 8.00, 8.00),
    CODE_GEN: TierCost("deepseek-v3.2", 0.42, 0.42),
}
# The write-up gives total tokens per request (~200, ~400, ~600, ~300); the input/output split is
# an assumption, the same as config/scenarios/writeup.toml's. With flat prices it is moot.
WRITEUP_TOKENS: Mapping[str, TokenProfile] = {
    SIMPLE_FAQ: TokenProfile(120, 80),
    MODERATE_CONV: TokenProfile(220, 180),
    COMPLEX_REASONING: TokenProfile(300, 300),
    CODE_GEN: TokenProfile(140, 160),
}
# The tier that serves every query (used for the "everything on the top model" counterfactual).
TOP_TIER = COMPLEX_REASONING


def cost_per_1000(
    true_tiers: Sequence[str],
    routed_tiers: Sequence[str],
    costs: Mapping[str, TierCost] = WRITEUP_TIER_COSTS,
    tokens: Mapping[str, TokenProfile] = WRITEUP_TOKENS,
) -> float:
    """Expected USD per 1,000 requests when each query of ``true_tiers`` goes to ``routed_tiers``."""
    if not true_tiers:
        return 0.0
    total = 0.0
    for true_tier, routed in zip(true_tiers, routed_tiers, strict=True):
        profile = tokens.get(true_tier)
        price = costs.get(routed)
        if profile is None or price is None:
            continue
        total += price.cost(profile.input_tokens, profile.output_tokens)
    return 1000.0 * total / len(true_tiers)
