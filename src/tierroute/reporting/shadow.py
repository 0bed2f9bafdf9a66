"""Shadow scoring in the report: per challenger, agreement with the champion and routing cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, or_

from tierroute.reporting.costs import PriceFn, priced
from tierroute.reporting.queries import (
    CHAT,
    SIDE,
    Counts,
    Key,
    TokenCell,
    Window,
    counts,
    token_cells,
)
from tierroute.store.records import RouteSide
from tierroute.store.schema import requests


@dataclass(frozen=True)
class ShadowComparison:
    """One challenger scored in shadow: agreement with the champion and its routing's cost.

    Costs price each shadowed chat request's logged tokens on the primary model of the tier
    each classifier chose (``routed_cost_usd``: the champion's tier; ``challenger_cost_usd``:
    the challenger's), so that only the routing differs; ``logged_cost_usd`` is what was paid.
    """

    challenger_model_id: str
    champion_model_ids: list[str]
    tiers: list[str]
    matrix: list[list[int]]  # rows: champion tier, columns: challenger tier
    requests: int
    agreement: float
    priced_requests: int
    logged_cost_usd: float
    routed_cost_usd: float | None
    challenger_cost_usd: float | None
    monthly_routed_usd: float | None
    monthly_challenger_usd: float | None


def _route_cost(
    cells: Mapping[Key, list[TokenCell]],
    challenger: str,
    primary: Mapping[str, str],
    price: PriceFn,
) -> float | None:
    total = 0.0
    for (owner, tier), tier_cells in cells.items():
        if owner != challenger:
            continue
        cost = priced(tier_cells, primary.get(tier), price)
        if cost is None:
            return None  # a tier without a priced model: no honest total
        total += cost
    return total


def shadow_comparisons(
    engine: Engine,
    window: Window,
    tier_order: Sequence[str],
    primary: dict[str, str],
    price: PriceFn,
    months: float,
) -> list[ShadowComparison]:
    """One comparison per challenger seen beside the champion (champion-side rows only)."""
    c = requests.c
    shadowed = [
        SIDE == RouteSide.CHAMPION,
        c.challenger_model_id.is_not(None),
        c.tier.is_not(None),
        c.challenger_tier.is_not(None),
    ]
    chat = [*shadowed, CHAT, or_(c.prompt_tokens > 0, c.completion_tokens > 0)]
    cells = counts(engine, window, [c.challenger_model_id, c.tier, c.challenger_tier], shadowed)
    champions = counts(engine, window, [c.challenger_model_id, c.model_id], shadowed)
    logged = counts(engine, window, [c.challenger_model_id], chat)
    routed_cells = token_cells(engine, window, [c.challenger_model_id, c.tier], chat)
    other_cells = token_cells(engine, window, [c.challenger_model_id, c.challenger_tier], chat)
    out = []
    for challenger in sorted({key[0] for key in cells}):
        mine = {(t, o): n.requests for (ch, t, o), n in cells.items() if ch == challenger}
        seen = {tier for pair in mine for tier in pair}
        tiers = [t for t in tier_order if t in seen] + sorted(seen - set(tier_order))
        index = {tier: i for i, tier in enumerate(tiers)}
        matrix = [[0] * len(tiers) for _ in tiers]
        for (tier, other), n in mine.items():
            matrix[index[tier]][index[other]] += n
        total = sum(mine.values())
        paid = logged.get((challenger,), Counts())
        routed = _route_cost(routed_cells, challenger, primary, price)
        other = _route_cost(other_cells, challenger, primary, price)
        out.append(
            ShadowComparison(
                challenger_model_id=challenger,
                champion_model_ids=sorted(m for ch, m in champions if ch == challenger and m),
                tiers=tiers,
                matrix=matrix,
                requests=total,
                agreement=sum(matrix[i][i] for i in range(len(tiers))) / total,
                priced_requests=paid.requests,
                logged_cost_usd=paid.cost_usd,
                routed_cost_usd=routed,
                challenger_cost_usd=other,
                monthly_routed_usd=None if routed is None else routed * months,
                monthly_challenger_usd=None if other is None else other * months,
            )
        )
    return out
