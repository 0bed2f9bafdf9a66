"""Usage for ``tierroute report``: what routing did and cost, from the request log.

Over a window of the log (``--since 30d``):

- the results table: monthly cost (the window's cost extrapolated to 30 days), P50 and P99
  latency, error rate, beside the counterfactual "everything on the top model" (each request's
  logged tokens priced on the top tier's primary model) and, with ``--compare-to``, a baseline
  such as the write-up's "before" figures; the same by tier and model;
- the canary's sides, when a canary ran (``route_side``);
- per challenger that ran in shadow, the agreement matrix of champion and challenger tiers and
  the cost the challenger's routing would have produced (drift is in ``loop.report_drift``).

The monthly figure assumes the window's traffic rate holds: cost x 30 days / the span observed
(from the later of the window's start and the first logged request, to the report's end).
Latency percentiles are over answered requests (status < 400); the error rate counts statuses
of 400 and above among requests whose client stayed (a 499, client gone, is neither).
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, select

from tierroute.exceptions import ConfigError
from tierroute.store.records import CANARY, CHAMPION
from tierroute.store.schema import requests
from tierroute.text_input import read_utf8

MONTH = timedelta(days=30)
MIN_SPAN = timedelta(minutes=1)  # a shorter span would extrapolate noise
CLIENT_CLOSED = 499

# Prices a request: (provider:model, prompt tokens, completion tokens) -> USD, None if unknown.
PriceFn = Callable[[str, int, int], float | None]


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """The columns of one request-log row the report uses."""

    created_at: datetime
    endpoint: str
    status: int
    tier: str | None
    confidence: float | None
    fallback: bool | None
    model_id: str | None
    model: str | None
    latency_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    route_side: str
    challenger_tier: str | None
    challenger_model_id: str | None

    @property
    def is_error(self) -> bool:
        """A failed request (the client stayed to see it)."""
        return self.status >= 400 and self.status != CLIENT_CLOSED


_COLUMNS = (
    requests.c.created_at,
    requests.c.endpoint,
    requests.c.status,
    requests.c.tier,
    requests.c.confidence,
    requests.c.fallback,
    requests.c.model_id,
    requests.c.model,
    requests.c.latency_ms,
    requests.c.prompt_tokens,
    requests.c.completion_tokens,
    requests.c.cost_usd,
    requests.c.route_side,
    requests.c.challenger_tier,
    requests.c.challenger_model_id,
)


def read_requests(engine: Engine, since: datetime, until: datetime) -> list[LoggedRequest]:
    """Every logged request in ``[since, until]``, oldest first (streamed from the database)."""
    query = (
        select(*_COLUMNS)
        .where(requests.c.created_at >= since, requests.c.created_at <= until)
        .order_by(requests.c.created_at, requests.c.id)
    )
    out: list[LoggedRequest] = []
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=20_000).execute(query):
            out.append(
                LoggedRequest(
                    created_at=row.created_at,
                    endpoint=row.endpoint,
                    status=int(row.status),
                    tier=row.tier,
                    confidence=row.confidence,
                    fallback=row.fallback,
                    model_id=row.model_id,
                    model=row.model,
                    latency_ms=row.latency_ms,
                    prompt_tokens=int(row.prompt_tokens or 0),
                    completion_tokens=int(row.completion_tokens or 0),
                    cost_usd=float(row.cost_usd or 0.0),
                    route_side=row.route_side or CHAMPION,
                    challenger_tier=row.challenger_tier,
                    challenger_model_id=row.challenger_model_id,
                )
            )
    return out


# ---------------------------------------------------------------------------- baseline


class Baseline(BaseModel):
    """Figures to compare with (``--compare-to``), e.g. the write-up's "before" month."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = "baseline"
    monthly_cost_usd: float | None = Field(default=None, ge=0)
    p50_latency_ms: float | None = Field(default=None, ge=0)
    p99_latency_ms: float | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)  # a fraction: 0.023 is 2.3 %


def load_baseline(path: Path) -> Baseline:
    """A baseline from JSON or TOML; ConfigError names the file and the bad key."""
    try:
        text = read_utf8(path, ConfigError)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ConfigError(f"{path}: not valid {kind}: {exc}") from exc
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path}: " + "; ".join(problems)) from exc


# ---------------------------------------------------------------------------- summaries


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else None


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


def summarize(
    rows: Sequence[LoggedRequest], months: float, top_model: str | None, price: PriceFn
) -> Summary:
    """The results-table figures of ``rows`` (chat requests)."""
    abandoned = sum(r.status == CLIENT_CLOSED for r in rows)
    judged = len(rows) - abandoned
    errors = sum(r.is_error for r in rows)
    answered = [r.latency_ms for r in rows if r.status < 400 and r.latency_ms is not None]
    routed = [r for r in rows if r.fallback is not None]
    cost = sum(r.cost_usd for r in rows)
    top_cost: float | None = None
    if top_model is not None:
        priced = [price(top_model, r.prompt_tokens, r.completion_tokens) for r in rows]
        if all(p is not None for p in priced):
            top_cost = sum(p for p in priced if p is not None)
    return Summary(
        requests=len(rows),
        errors=errors,
        abandoned=abandoned,
        error_rate=errors / judged if judged else None,
        p50_ms=_percentile(answered, 50),
        p99_ms=_percentile(answered, 99),
        cost_usd=cost,
        monthly_usd=cost * months,
        top_model_cost_usd=top_cost,
        top_model_monthly_usd=None if top_cost is None else top_cost * months,
        fallback_rate=sum(bool(r.fallback) for r in routed) / len(routed) if routed else None,
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
    )


@dataclass(frozen=True)
class Group:
    """A summary under a label (a tier and model, a canary side)."""

    key: tuple[str, ...]
    summary: Summary


def grouped(
    rows: Sequence[LoggedRequest],
    key: Callable[[LoggedRequest], tuple[str, ...]],
    months: float,
    top_model: str | None,
    price: PriceFn,
) -> list[Group]:
    """Summaries per key, largest cost first."""
    buckets: dict[tuple[str, ...], list[LoggedRequest]] = {}
    for row in rows:
        buckets.setdefault(key(row), []).append(row)
    groups = [Group(k, summarize(v, months, top_model, price)) for k, v in buckets.items()]
    return sorted(groups, key=lambda g: (-g.summary.cost_usd, g.key))


# ---------------------------------------------------------------------------- shadow


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


def shadow_comparisons(
    rows: Sequence[LoggedRequest],
    tier_order: Sequence[str],
    primary: dict[str, str],
    price: PriceFn,
    months: float,
) -> list[ShadowComparison]:
    """One comparison per challenger seen beside the champion (champion-side rows only)."""
    by_challenger: dict[str, list[LoggedRequest]] = {}
    for row in rows:
        if (
            row.route_side == CHAMPION
            and row.challenger_model_id
            and row.tier is not None
            and row.challenger_tier is not None
        ):
            by_challenger.setdefault(row.challenger_model_id, []).append(row)
    out = []
    for challenger, shadowed in sorted(by_challenger.items()):
        seen = {t for r in shadowed for t in (r.tier, r.challenger_tier) if t is not None}
        tiers = [t for t in tier_order if t in seen] + sorted(seen - set(tier_order))
        index = {tier: i for i, tier in enumerate(tiers)}
        matrix = [[0] * len(tiers) for _ in tiers]
        for r in shadowed:
            assert r.tier is not None and r.challenger_tier is not None
            matrix[index[r.tier]][index[r.challenger_tier]] += 1
        chats = [
            r for r in shadowed if r.endpoint == "chat" and (r.prompt_tokens or r.completion_tokens)
        ]
        routed = _route_cost(chats, lambda r: r.tier, primary, price)
        other = _route_cost(chats, lambda r: r.challenger_tier, primary, price)
        agree = sum(matrix[i][i] for i in range(len(tiers)))
        out.append(
            ShadowComparison(
                challenger_model_id=challenger,
                champion_model_ids=sorted({r.model_id for r in shadowed if r.model_id}),
                tiers=tiers,
                matrix=matrix,
                requests=len(shadowed),
                agreement=agree / len(shadowed),
                priced_requests=len(chats),
                logged_cost_usd=sum(r.cost_usd for r in chats),
                routed_cost_usd=routed,
                challenger_cost_usd=other,
                monthly_routed_usd=None if routed is None else routed * months,
                monthly_challenger_usd=None if other is None else other * months,
            )
        )
    return out


def _route_cost(
    rows: Iterable[LoggedRequest],
    tier_of: Callable[[LoggedRequest], str | None],
    primary: dict[str, str],
    price: PriceFn,
) -> float | None:
    total = 0.0
    for row in rows:
        tier = tier_of(row)
        model = primary.get(tier) if tier else None
        cost = price(model, row.prompt_tokens, row.completion_tokens) if model else None
        if cost is None:
            return None  # a tier without a priced model: no honest total
        total += cost
    return total


# ---------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Pricing:
    """Where tiers go and what tokens cost (from the gateway config's chains and prices)."""

    primary: dict[str, str]  # tier -> primary provider:model
    top_tier: str
    price: PriceFn

    @property
    def top_model(self) -> str | None:
        """The top tier's primary model: the "everything on the top model" counterfactual."""
        return self.primary.get(self.top_tier)


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
    rows: Sequence[LoggedRequest],
    since: datetime,
    until: datetime,
    pricing: Pricing,
    tier_order: Sequence[str],
    baseline: Baseline | None = None,
) -> UsageReport:
    """The results table, the breakdowns, the canary sides and the shadow comparisons."""
    first = rows[0].created_at if rows else None
    span = observed_span(since, until, first)
    months = MONTH / span
    chats = [r for r in rows if r.endpoint == "chat"]
    top = pricing.top_model
    price = pricing.price
    notes = []
    if top is None:
        notes.append(f"no model chain for the top tier {pricing.top_tier}: no counterfactual")
    by_side: list[Group] = []
    if any(r.route_side == CANARY for r in chats):
        by_side = grouped(chats, lambda r: (r.route_side,), months, top, price)
    return UsageReport(
        since=since,
        until=until,
        first_request=first,
        span=span,
        months=months,
        chat_requests=len(chats),
        classify_requests=sum(r.endpoint == "classify" for r in rows),
        model_ids=dict(Counter(r.model_id for r in rows if r.model_id).most_common()),
        top_model=top,
        total=summarize(chats, months, top, price),
        by_tier_model=grouped(
            chats,
            lambda r: (r.tier or "passthrough", r.model or "(none)"),
            months,
            top,
            price,
        ),
        by_side=by_side,
        shadow=shadow_comparisons(rows, tier_order, pricing.primary, price, months),
        baseline=baseline,
        notes=notes,
    )
