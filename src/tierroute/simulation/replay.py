"""Replay logged traffic under other routing policies: cost against under-routing.

The logged queries (text as stored, redacted) are re-classified by a model at several confidence
thresholds, and also routed by the keyword heuristic, by everything-on-the-top-tier and as they
were actually logged. Each policy's cost prices every request on the model its routed tier maps
to in the scenario, with the request's logged token counts (or, when the log has none, e.g. for
``/v1/classify`` rows, the scenario's averages for the query's tier). Under-routing is measured
on the rows that carry a human label. A team reads the table (or the PNG curve) to pick its
threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tierroute.classifier.heuristic import heuristic_tier
from tierroute.classifier.model import TierModel
from tierroute.exceptions import ConfigError, DataError
from tierroute.simulation.scenario import Pricing, Scenario, UnitPrice, unit_price
from tierroute.store.labels import LoggedRow
from tierroute.tier_costs import TOP_TIER
from tierroute.tiers import DEFAULT_TIERS, is_over_routed, is_under_routed

DEFAULT_THRESHOLDS: tuple[float, ...] = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One logged, routed query: its text, what it was routed to, its tokens and its label."""

    text: str
    logged_tier: str
    label: str | None
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class PolicyPoint:
    """One policy's outcome on the replayed traffic."""

    policy: str
    threshold: float | None
    requests: int
    cost_usd: float
    monthly_usd: float  # cost per request x the scenario's requests per month
    labeled: int
    under_routing_rate: float | None
    over_routing_rate: float | None
    accuracy: float | None
    fallback_rate: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class ReplayInput:
    """Logged rows fit to replay, and what was left out and why."""

    rows: list[ReplayRow]
    without_text: int
    not_routed: int


def replay_rows(logged: Iterable[LoggedRow]) -> ReplayInput:
    """Routed request-log rows with text (from ``store.labels.logged_rows``)."""
    rows: list[ReplayRow] = []
    without_text = not_routed = 0
    for row in logged:
        if row.routed_tier is None:
            not_routed += 1  # a pass-through request: no classifier decision to replay
            continue
        if not row.text:
            without_text += 1
            continue
        rows.append(
            ReplayRow(
                text=row.text,
                logged_tier=row.routed_tier,
                label=row.label,
                prompt_tokens=row.prompt_tokens,
                completion_tokens=row.completion_tokens,
            )
        )
    return ReplayInput(rows, without_text, not_routed)


def cost_matrix(
    rows: Sequence[ReplayRow], scenario: Scenario, tiers: Sequence[str], pricing: Pricing
) -> NDArray[np.float64]:
    """USD of each row (columns) if routed to each tier (rows of the matrix)."""
    missing = [tier for tier in tiers if tier not in scenario.tiers]
    if missing:
        raise ConfigError(
            f"scenario: no model for tier(s) {', '.join(missing)} (it has {', '.join(scenario.tiers)})"
        )
    prices: dict[str, UnitPrice] = {
        tier: unit_price(scenario, scenario.tiers[tier].model, pricing) for tier in tiers
    }
    out = np.zeros((len(tiers), len(rows)))
    for j, row in enumerate(rows):
        if row.prompt_tokens or row.completion_tokens:
            tokens_in, tokens_out = Decimal(row.prompt_tokens), Decimal(row.completion_tokens)
        else:
            profile = scenario.tiers.get(row.label or row.logged_tier)
            if profile is None:
                continue
            tokens_in, tokens_out = profile.input_tokens, profile.output_tokens
        for i, tier in enumerate(tiers):
            out[i, j] = float(prices[tier].cost(tokens_in, tokens_out))
    return out


def _point(
    name: str,
    threshold: float | None,
    routed: Sequence[str],
    fallback: Sequence[bool],
    rows: Sequence[ReplayRow],
    costs: NDArray[np.float64],
    tier_index: Mapping[str, int],
    per_month: float,
) -> PolicyPoint:
    n = len(rows)
    cost = float(sum(costs[tier_index[tier], j] for j, tier in enumerate(routed)))
    pairs = [(row.label, tier) for row, tier in zip(rows, routed, strict=True) if row.label]
    labeled = len(pairs)
    return PolicyPoint(
        policy=name,
        threshold=threshold,
        requests=n,
        cost_usd=cost,
        monthly_usd=cost / n * per_month if n else 0.0,
        labeled=labeled,
        under_routing_rate=sum(is_under_routed(t, p) for t, p in pairs) / labeled
        if labeled
        else None,
        over_routing_rate=sum(is_over_routed(t, p) for t, p in pairs) / labeled
        if labeled
        else None,
        accuracy=sum(t == p for t, p in pairs) / labeled if labeled else None,
        fallback_rate=sum(fallback) / n if n else 0.0,
    )


def replay(
    rows: Sequence[ReplayRow],
    model: TierModel,
    scenario: Scenario,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    pricing: Pricing = "genai-prices",
    default_tier: str | None = None,
) -> list[PolicyPoint]:
    """Cost and under-routing of each policy on the same logged traffic.

    ``default_tier`` replaces the model's fallback tier (where low-confidence queries go).
    """
    if default_tier is not None and default_tier not in model.tiers:
        raise ConfigError(f"default tier {default_tier!r} is not one of {', '.join(model.tiers)}")
    fallback_to = default_tier or model.default_tier
    if not rows:
        raise DataError("no logged requests with text to replay (is log.store_text on?)")
    # Every tier any policy can route to needs a price: the model's, the heuristic's, the log's.
    tiers = list(
        dict.fromkeys([*model.tiers, *DEFAULT_TIERS, TOP_TIER, *(r.logged_tier for r in rows)])
    )
    tier_index = {tier: i for i, tier in enumerate(tiers)}
    costs = cost_matrix(rows, scenario, tiers, pricing)
    per_month = float(scenario.requests_per_month)
    no_fallback = [False] * len(rows)

    def point(name: str, threshold: float | None, routed: list[str], fb: list[bool]) -> PolicyPoint:
        return _point(name, threshold, routed, fb, rows, costs, tier_index, per_month)

    points = [point("logged", None, [r.logged_tier for r in rows], no_fallback)]
    proba = model.predict_proba([r.text for r in rows])
    for threshold in sorted({*thresholds, model.threshold}):
        policy = replace(model.policy, threshold=threshold, default_tier=fallback_to)
        decisions = [policy.decide(p.tolist(), model.model_id) for p in proba]
        name = "model (card threshold)" if threshold == model.threshold else "model"
        points.append(
            point(name, threshold, [d.tier for d in decisions], [d.fallback for d in decisions])
        )
    points.append(point("heuristic", None, [heuristic_tier(r.text) for r in rows], no_fallback))
    points.append(point(f"all {TOP_TIER}", None, [TOP_TIER] * len(rows), no_fallback))
    return points
