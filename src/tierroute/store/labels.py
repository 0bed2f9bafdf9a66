"""Read labeled traffic out of the request log, and store corrected labels in bulk.

The learning loop's queries: the log joined with each request's latest human label (for
``tierroute logs export`` and the simulator's replay), every label with the text it applies to
(for ``retrain``), and which request ids the log holds (to validate a label file).

``store_labels`` is the one write here: a bulk label import is all-or-nothing, so it inserts its
rows in one transaction on the caller's thread rather than through ``LogWriter``'s queue, which
serves the request path (non-blocking, per-row). It writes the same ``feedback`` table that
``POST /v1/feedback`` writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, union_all
from sqlalchemy.sql import Select

from tierroute.store.records import FeedbackRecord
from tierroute.store.schema import feedback, requests

_ID_CHUNK = 500


@dataclass(frozen=True, slots=True)
class LoggedLabel:
    """One human label and the query text it applies to.

    ``text`` is the text as the log stored it (redacted), None when the log kept no text.
    ``observed_at`` is when the query was seen: the request's time, or the label's time for a
    label given on a bare text.
    """

    label_id: int
    tier: str
    text: str | None
    request_id: str | None
    source: str
    labeled_at: datetime
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class LoggedRow:
    """A request-log row with its latest human label (``label`` None: not labeled).

    A label given on a bare text (no request id) is a row whose request fields are None.
    """

    request_id: str | None
    created_at: datetime
    endpoint: str | None
    text: str | None
    routed_tier: str | None
    confidence: float | None = None
    fallback: bool | None = None
    model_id: str | None = None
    model: str | None = None
    status: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float | None = None
    route_side: str | None = None
    challenger_tier: str | None = None
    label: str | None = None
    label_source: str | None = None
    labeled_at: datetime | None = None


def _first_request_rows() -> Any:
    """Subquery: the first logged row of each request id (a client may reuse an id)."""
    return (
        select(requests.c.request_id, func.min(requests.c.id).label("first_id"))
        .group_by(requests.c.request_id)
        .subquery("first_rows")
    )


def labels_since(engine: Engine, start: datetime) -> list[LoggedLabel]:
    """Every label on traffic observed since ``start`` (all of them, not only the latest)."""
    first = _first_request_rows()
    linked = (
        select(
            feedback.c.id.label("label_id"),
            feedback.c.tier,
            func.coalesce(requests.c.text, feedback.c.text).label("text"),
            feedback.c.request_id,
            feedback.c.source,
            feedback.c.created_at.label("labeled_at"),
            requests.c.created_at.label("observed_at"),
        )
        .select_from(
            feedback.join(first, first.c.request_id == feedback.c.request_id).join(
                requests, requests.c.id == first.c.first_id
            )
        )
        .where(requests.c.created_at >= start)
    )
    bare = select(
        feedback.c.id.label("label_id"),
        feedback.c.tier,
        feedback.c.text,
        feedback.c.request_id,
        feedback.c.source,
        feedback.c.created_at.label("labeled_at"),
        feedback.c.created_at.label("observed_at"),
    ).where(feedback.c.request_id.is_(None), feedback.c.created_at >= start)
    both = union_all(linked, bare).subquery("labels")
    query = select(both).order_by(both.c.observed_at, both.c.label_id)
    with engine.connect() as conn:
        return [LoggedLabel(**row._mapping) for row in conn.execute(query)]


def _latest_labels() -> Any:
    """Subquery: the latest label of each request id (``rn == 1``)."""
    rank = (
        func.row_number()
        .over(
            partition_by=feedback.c.request_id,
            order_by=(feedback.c.created_at.desc(), feedback.c.id.desc()),
        )
        .label("rn")
    )
    return (
        select(
            feedback.c.request_id,
            feedback.c.tier,
            feedback.c.source,
            feedback.c.created_at,
            rank,
        )
        .where(feedback.c.request_id.is_not(None))
        .subquery("latest")
    )


def _requests_with_labels(start: datetime, labeled_only: bool) -> Select[Any]:
    latest = _latest_labels()
    on = and_(latest.c.request_id == requests.c.request_id, latest.c.rn == 1)
    joined = requests.join(latest, on) if labeled_only else requests.outerjoin(latest, on)
    return (
        select(
            requests.c.request_id,
            requests.c.created_at,
            requests.c.endpoint,
            requests.c.text,
            requests.c.tier.label("routed_tier"),
            requests.c.confidence,
            requests.c.fallback,
            requests.c.model_id,
            requests.c.model,
            requests.c.status,
            requests.c.prompt_tokens,
            requests.c.completion_tokens,
            requests.c.cost_usd,
            requests.c.latency_ms,
            requests.c.route_side,
            requests.c.challenger_tier,
            latest.c.tier.label("label"),
            latest.c.source.label("label_source"),
            latest.c.created_at.label("labeled_at"),
        )
        .select_from(joined)
        .where(requests.c.created_at >= start)
        .order_by(requests.c.created_at, requests.c.id)
    )


def logged_rows(
    engine: Engine,
    start: datetime,
    *,
    labeled_only: bool = False,
    include_bare_labels: bool = True,
) -> Iterator[LoggedRow]:
    """Request-log rows since ``start``, oldest first, each with its latest label (or None).

    With ``include_bare_labels``, labels given on a bare text (no request id) since ``start``
    follow, as rows whose request fields are None. Streams: the log may be large.
    """
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=1000).execute(
            _requests_with_labels(start, labeled_only)
        )
        for row in result:
            values = dict(row._mapping)
            values["prompt_tokens"] = values["prompt_tokens"] or 0
            values["completion_tokens"] = values["completion_tokens"] or 0
            values["cost_usd"] = values["cost_usd"] or 0.0
            yield LoggedRow(**values)
        if not include_bare_labels:
            return
        bare = (
            select(feedback)
            .where(feedback.c.request_id.is_(None), feedback.c.created_at >= start)
            .order_by(feedback.c.created_at, feedback.c.id)
        )
        for label in conn.execution_options(yield_per=1000).execute(bare):
            yield LoggedRow(
                request_id=None,
                created_at=label.created_at,
                endpoint=None,
                text=label.text,
                routed_tier=None,
                label=label.tier,
                label_source=label.source,
                labeled_at=label.created_at,
            )


def existing_request_ids(engine: Engine, request_ids: Iterable[str]) -> set[str]:
    """The subset of ``request_ids`` that the log holds."""
    wanted = sorted(set(request_ids))
    found: set[str] = set()
    with engine.connect() as conn:
        for start in range(0, len(wanted), _ID_CHUNK):
            chunk = wanted[start : start + _ID_CHUNK]
            query = select(requests.c.request_id).where(requests.c.request_id.in_(chunk))
            found.update(conn.execute(query.distinct()).scalars())
    return found


def store_labels(engine: Engine, records: Sequence[FeedbackRecord]) -> int:
    """Insert labels into ``feedback`` in one transaction (all or nothing); returns the count."""
    if not records:
        return 0
    with engine.begin() as conn:
        conn.execute(insert(feedback), [record.row() for record in records])
    return len(records)
