"""Drift for ``tierroute report``: tier mix and confidence over time against the champion's own.

The reference comes from the champion's model directory: the tier mix of its training labels
(the card's ``training_data.counts.tier``) and, when its frozen evaluation set is stored beside
it (``eval.jsonl``), the tiers it routes that held-out set to and the confidence it has there,
which is the like-for-like comparison for what it routes and how sure it is in production.
Only the champion side's decisions are used (a canary's are the challenger's).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from tierroute.classifier.artifacts import EVAL_SET_NAME, read_card, resolve_model_dir
from tierroute.classifier.model import load_model
from tierroute.data.io import read_texts
from tierroute.exceptions import DataError, ModelError
from tierroute.reporting.queries import (
    SIDE,
    Counts,
    Window,
    bin_counts,
    counts,
    percentiles,
    period_of,
)
from tierroute.store.records import RouteSide
from tierroute.store.schema import requests

logger = logging.getLogger(__name__)

HISTOGRAM_BINS = 20  # confidence histograms over [0, 1]
EDGES = [float(e) for e in np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)]
STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def shares(counts: Mapping[str, float]) -> dict[str, float]:
    """Counts as fractions of their total."""
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def total_variation(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Half the L1 distance between two distributions over tiers: 0 same, 1 disjoint."""
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in {*p, *q})


def histogram(confidences: Sequence[float]) -> list[int]:
    """Counts of confidences in ``HISTOGRAM_BINS`` equal bins over [0, 1]."""
    counts, _ = np.histogram(confidences, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    return [int(c) for c in counts]


@dataclass(frozen=True)
class Reference:
    """The champion's own distributions."""

    model_id: str
    threshold: float
    training_mix: dict[str, float]
    routed_mix: dict[str, float] | None = None  # on its held-out evaluation set
    confidence_histogram: list[int] | None = None
    confidence_median: float | None = None
    fallback_rate: float | None = None
    eval_rows: int = 0


def champion_reference(models_root: Path) -> tuple[Reference | None, list[str]]:
    """The reference of the models root's champion, and notes on what could not be had."""
    try:
        model_dir = resolve_model_dir(models_root)
        card = read_card(model_dir)
    except ModelError as exc:
        return None, [f"no drift reference: {exc}"]
    counts = card.training_data.get("counts", {}).get("tier", {})
    reference = Reference(card.model_id, card.threshold, shares(counts))
    eval_path = model_dir / EVAL_SET_NAME
    if not eval_path.is_file():
        return reference, [f"{model_dir}: no {EVAL_SET_NAME}; confidence has no reference"]
    try:
        texts = [str(row["text"]) for row in read_texts(eval_path)]
        decisions = load_model(model_dir).predict_batch(texts)
    except (ModelError, DataError) as exc:
        return reference, [f"held-out reference unavailable: {exc}"]
    confidences = [d.confidence for d in decisions]
    return (
        Reference(
            model_id=card.model_id,
            threshold=card.threshold,
            training_mix=reference.training_mix,
            routed_mix=shares(Counter(d.tier for d in decisions)),
            confidence_histogram=histogram(confidences),
            confidence_median=float(np.median(confidences)) if confidences else None,
            fallback_rate=sum(d.fallback for d in decisions) / len(decisions)
            if decisions
            else None,
            eval_rows=len(decisions),
        ),
        [],
    )


@dataclass(frozen=True)
class Period:
    """One time bucket of champion decisions."""

    start: datetime
    requests: int
    mix: dict[str, float]
    confidence_p10: float
    confidence_median: float
    fallback_rate: float
    distance_to_reference: float | None  # total variation from the held-out routed mix


@dataclass(frozen=True)
class Drift:
    """Tier mix and confidence per period, for the window as a whole, and the reference."""

    bucket: str  # "hour", "day" or "week"
    periods: list[Period]
    requests: int
    mix: dict[str, float]
    confidence_histogram: list[int]
    confidence_median: float | None
    fallback_rate: float | None
    reference: Reference | None
    distance_to_training: float | None
    distance_to_routed: float | None
    notes: list[str] = field(default_factory=list)


def bucket_for(span: timedelta) -> str:
    """Hours for up to two days, days up to 90 days, weeks beyond."""
    if span <= timedelta(days=2):
        return "hour"
    return "day" if span <= timedelta(days=90) else "week"


def _floor(moment: datetime, bucket: str) -> datetime:
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if bucket == "day" else day - timedelta(days=day.weekday())


def period_starts(start: datetime, until: datetime, bucket: str) -> list[datetime]:
    """The start of every period from the one holding ``start`` to the one holding ``until``."""
    step = STEP[bucket]
    starts = [_floor(start, bucket)]
    while starts[-1] + step <= until:
        starts.append(starts[-1] + step)
    return starts


def _mix(by_tier: Mapping[str, int]) -> dict[str, float]:
    return shares(dict(sorted(by_tier.items(), key=lambda item: (-item[1], item[0]))))


def drift(
    engine: Engine,
    window: Window,
    first: datetime | None,
    span: timedelta,
    reference: Reference | None,
    notes: Sequence[str] = (),
) -> Drift:
    """Drift of the champion's decisions in the window against ``reference`` (SQL aggregates)."""
    c = requests.c
    decided = [SIDE == RouteSide.CHAMPION, c.tier.is_not(None), c.confidence.is_not(None)]
    bucket = bucket_for(span)
    starts = period_starts(max(window.since, first or window.since), window.until, bucket)
    period = period_of(starts)
    cells = counts(engine, window, [period, c.tier], decided)
    spread = percentiles(engine, window, c.confidence, (10, 50), [period], decided)
    routed_ref = reference.routed_mix if reference else None
    by_period: dict[int, dict[str, Counts]] = defaultdict(dict)
    for (index, tier), n in cells.items():
        by_period[int(index)][str(tier)] = n
    periods = []
    for index, tiers in sorted(by_period.items()):
        requests_n = sum(n.requests for n in tiers.values())
        mix = _mix({tier: n.requests for tier, n in tiers.items()})
        periods.append(
            Period(
                start=starts[index],
                requests=requests_n,
                mix=mix,
                confidence_p10=spread[(index,)][10],
                confidence_median=spread[(index,)][50],
                fallback_rate=sum(n.fallbacks for n in tiers.values()) / requests_n,
                distance_to_reference=total_variation(mix, routed_ref) if routed_ref else None,
            )
        )
    overall = {str(key[0]): n for key, n in counts(engine, window, [c.tier], decided).items()}
    decided_n = sum(n.requests for n in overall.values())
    mix = _mix({tier: n.requests for tier, n in overall.items()})
    median = percentiles(engine, window, c.confidence, (50,), (), decided).get((), {}).get(50)
    return Drift(
        bucket=bucket,
        periods=periods,
        requests=decided_n,
        mix=mix,
        confidence_histogram=bin_counts(engine, window, c.confidence, EDGES, decided),
        confidence_median=median,
        fallback_rate=sum(n.fallbacks for n in overall.values()) / decided_n if decided_n else None,
        reference=reference,
        distance_to_training=total_variation(mix, reference.training_mix)
        if reference and mix and reference.training_mix
        else None,
        distance_to_routed=total_variation(mix, routed_ref) if routed_ref and mix else None,
        notes=list(notes),
    )
