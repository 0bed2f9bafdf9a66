"""Usage for ``tierroute report``: what routing did and cost, from the request log.

Over a window of the log (``--since 30d``):

- the results table: monthly cost (the window's cost extrapolated to 30 days), P50 and P99
  latency, error rate, beside the counterfactual "everything on the top model" (each request's
  logged tokens priced on the top tier's primary model) and, with ``--compare-to``, a baseline
  such as the write-up's "before" figures; the same by tier and model;
- the canary's sides, when a canary ran (``route_side``);
- per challenger that ran in shadow, the agreement matrix of champion and challenger tiers and
  the cost the challenger's routing would have produced (drift is in ``reporting.drift``).

The monthly figure assumes the window's traffic rate holds: cost x 30 days / the span observed
(from the later of the window's start and the first logged request, to the report's end).
Latency percentiles are over answered requests (status < 400); the error rate counts statuses
of 400 and above among requests whose client stayed (a 499, client gone, is neither).
Every figure is aggregated by the database (``reporting.queries``): no row is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.sql import ColumnElement

from tierroute.reporting.baseline import Baseline
from tierroute.reporting.costs import Pricing, priced
from tierroute.reporting.queries import (
    ANSWERED,
    CHAT,
    SIDE,
    Counts,
    Key,
    Window,
    counts,
    first_request,
    percentiles,
    token_cells,
)
from tierroute.reporting.shadow import ShadowComparison, shadow_comparisons
from tierroute.store.records import RouteSide
from tierroute.store.schema import requests

MONTH = timedelta(days=30)
MIN_SPAN = timedelta(minutes=1)  # a shorter span would extrapolate noise


@dataclass(frozen=True)
class Summary:
    """Requests, errors, latency and cost of a group of chat requests over the window."""

    requests: int
    errors: int
    abandoned: int
    error_rate: float | None
    p50_ms: float | None
    p99_ms: float | None
    cost_usd: float
    monthly_usd: float
    top_model_cost_usd: float | None  # the same requests' tokens on the top model
    top_model_monthly_usd: float | None
    fallback_rate: float | None
    prompt_tokens: int
    completion_tokens: int


def summary(
    c: Counts, latency: Mapping[int, float], top_cost: float | None, months: float
) -> Summary:
    """The results-table figures of one group from its aggregates."""
    judged = c.requests - c.abandoned
    return Summary(
        requests=c.requests,
        errors=c.errors,
        abandoned=c.abandoned,
        error_rate=c.errors / judged if judged else None,
        p50_ms=latency.get(50),
        p99_ms=latency.get(99),
        cost_usd=c.cost_usd,
        monthly_usd=c.cost_usd * months,
        top_model_cost_usd=top_cost,
        top_model_monthly_usd=None if top_cost is None else top_cost * months,
        fallback_rate=c.fallbacks / c.routed if c.routed else None,
        prompt_tokens=c.prompt_tokens,
        completion_tokens=c.completion_tokens,
    )


@dataclass(frozen=True)
class Group:
    """A summary under a label (a tier and model, a canary side)."""

    key: tuple[str, ...]
    summary: Summary


def summaries(
    engine: Engine,
    window: Window,
    keys: Sequence[ColumnElement[Any]],
    months: float,
    pricing: Pricing,
    where: Sequence[ColumnElement[bool]] = (CHAT,),
) -> dict[Key, Summary]:
    """``Summary`` per distinct value of ``keys`` (chat requests by default)."""
    top = pricing.top_model
    grouped_counts = counts(engine, window, keys, where)
    latency = percentiles(engine, window, requests.c.latency_ms, (50, 99), keys, [*where, ANSWERED])
    tokens = token_cells(engine, window, keys, where) if top is not None else {}
    return {
        key: summary(
            c,
            latency.get(key, {}),
            priced(tokens.get(key, []), top, pricing.price) if top is not None else None,
            months,
        )
        for key, c in grouped_counts.items()
    }


def ranked_groups(by_key: Mapping[Key, Summary]) -> list[Group]:
    """Groups, largest cost first."""
    groups = [Group(tuple(str(k) for k in key), s) for key, s in by_key.items()]
    return sorted(groups, key=lambda g: (-g.summary.cost_usd, g.key))


@dataclass(frozen=True)
class UsageReport:
    """The usage part of the report: results table, breakdowns, canary sides, shadow."""

    since: datetime
    until: datetime
    first_request: datetime | None
    span: timedelta
    months: float  # multiplier from the window's cost to a 30-day month
    chat_requests: int
    classify_requests: int
    model_ids: dict[str, int]
    top_model: str | None
    total: Summary
    by_tier_model: list[Group]
    by_side: list[Group]
    shadow: list[ShadowComparison]
    baseline: Baseline | None
    notes: list[str] = field(default_factory=list)


def observed_span(since: datetime, until: datetime, first: datetime | None) -> timedelta:
    """From the later of the window's start and the first request, to the end (≥ 1 minute)."""
    start = max(since, first) if first is not None else since
    return max(until - start, MIN_SPAN)


def usage_report(
    engine: Engine,
    window: Window,
    pricing: Pricing,
    tier_order: Sequence[str],
    baseline: Baseline | None = None,
) -> UsageReport:
    """The results table, the breakdowns, the canary sides and the shadow comparisons."""
    c = requests.c
    first = first_request(engine, window)
    span = observed_span(window.since, window.until, first)
    months = MONTH / span
    top = pricing.top_model
    notes = []
    if top is None:
        notes.append(f"no model chain for the top tier {pricing.top_tier}: no counterfactual")
    endpoints = counts(engine, window, [c.endpoint])
    models = counts(engine, window, [c.model_id], [c.model_id.is_not(None)])
    by_model = sorted(((str(k[0]), n.requests) for k, n in models.items()), key=lambda m: -m[1])
    empty = summary(Counts(), {}, 0.0 if top is not None else None, months)
    sides = summaries(engine, window, [SIDE], months, pricing)
    tier_model = [func.coalesce(c.tier, "passthrough"), func.coalesce(c.model, "(none)")]
    return UsageReport(
        since=window.since,
        until=window.until,
        first_request=first,
        span=span,
        months=months,
        chat_requests=endpoints.get(("chat",), Counts()).requests,
        classify_requests=endpoints.get(("classify",), Counts()).requests,
        model_ids=dict(by_model),
        top_model=top,
        total=summaries(engine, window, [], months, pricing).get((), empty),
        by_tier_model=ranked_groups(summaries(engine, window, tier_model, months, pricing)),
        by_side=ranked_groups(sides) if (RouteSide.CANARY,) in sides else [],
        shadow=shadow_comparisons(
            engine, window, tier_order, pricing.primary, pricing.price, months
        ),
        baseline=baseline,
        notes=notes,
    )
