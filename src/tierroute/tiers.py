"""Tier names and the capability relation used to score under- and over-routing.

Tiers are data: a model learns whatever labels its training rows carry. This module only knows
the default four tiers of the write-up and which tier can serve which, so that evaluation can
tell a cheap mistake (over-routing: money) from an expensive one (under-routing: quality).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SIMPLE_FAQ = "simple_faq"
MODERATE_CONV = "moderate_conv"
COMPLEX_REASONING = "complex_reasoning"
CODE_GEN = "code_gen"

DEFAULT_TIERS: tuple[str, ...] = (SIMPLE_FAQ, MODERATE_CONV, COMPLEX_REASONING, CODE_GEN)
DEFAULT_FALLBACK_TIER = MODERATE_CONV

# Which routed tiers serve a query of the key's tier well. simple < moderate < complex; code is
# served by code_gen or complex_reasoning only.
DEFAULT_SERVED_BY: Mapping[str, frozenset[str]] = {
    SIMPLE_FAQ: frozenset(DEFAULT_TIERS),
    MODERATE_CONV: frozenset({MODERATE_CONV, COMPLEX_REASONING}),
    COMPLEX_REASONING: frozenset({COMPLEX_REASONING}),
    CODE_GEN: frozenset({CODE_GEN, COMPLEX_REASONING}),
}


def is_under_routed(
    true_tier: str, routed_tier: str, served_by: Mapping[str, frozenset[str]] = DEFAULT_SERVED_BY
) -> bool:
    """True when the routed tier cannot serve a query of ``true_tier`` well.

    Tiers unknown to ``served_by`` count as under-routed unless routed to themselves.
    """
    if true_tier == routed_tier:
        return False
    return routed_tier not in served_by.get(true_tier, frozenset({true_tier}))


def is_over_routed(
    true_tier: str, routed_tier: str, served_by: Mapping[str, frozenset[str]] = DEFAULT_SERVED_BY
) -> bool:
    """True when the routed tier differs from the true one but still serves it (wasted money)."""
    return true_tier != routed_tier and not is_under_routed(true_tier, routed_tier, served_by)


def under_routing_cost_matrix(
    tiers: Sequence[str],
    under_cost: float = 1.0,
    over_cost: float = 0.2,
    served_by: Mapping[str, frozenset[str]] = DEFAULT_SERVED_BY,
) -> list[list[float]]:
    """Cost of routing a query of tier ``tiers[i]`` to ``tiers[j]`` (row i, column j)."""
    rows: list[list[float]] = []
    for true_tier in tiers:
        row = []
        for routed in tiers:
            if routed == true_tier:
                row.append(0.0)
            elif is_under_routed(true_tier, routed, served_by):
                row.append(under_cost)
            else:
                row.append(over_cost)
        rows.append(row)
    return rows
