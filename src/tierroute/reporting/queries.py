"""The report's one reader of the request log: every figure is aggregated by the database.

A window of the log can hold millions of rows; nothing here loads them. Counts and sums come
from ``GROUP BY``; percentiles from ``row_number()`` over each group, of which only the two rows
around each wanted rank are read (exactly ``numpy.percentile``'s linear interpolation); histograms
and time periods from ``CASE`` over fixed edges. Only portable SQL (SQLite and PostgreSQL alike):
group keys are computed in a subquery and grouped by name, since PostgreSQL does not match an
expression with bound parameters in ``SELECT`` against the same expression in ``GROUP BY``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, case, func, or_, select
from sqlalchemy.sql import ColumnElement, Subquery

from tierroute.store.records import RouteSide
from tierroute.store.schema import requests

CLIENT_CLOSED = 499
Key = tuple[Any, ...]

# The canary side of a row; rows logged before the column existed count as the champion's.
SIDE = func.coalesce(requests.c.route_side, RouteSide.CHAMPION)
CHAT = requests.c.endpoint == "chat"
ANSWERED = requests.c.status < 400


@dataclass(frozen=True, slots=True)
class Window:
    """``[since, until]`` of the log, naive UTC."""

    since: datetime
    until: datetime

    def where(self) -> list[ColumnElement[bool]]:
        """The window as ``WHERE`` clauses."""
        return [requests.c.created_at >= self.since, requests.c.created_at <= self.until]


@dataclass(frozen=True, slots=True)
class Counts:
    """Requests, outcomes, cost and tokens of one group."""

    requests: int = 0
    errors: int = 0  # status 400 and above, the client still there
    abandoned: int = 0  # status 499: the client left
    cost_usd: float = 0.0
    routed: int = 0  # rows with a classifier decision (fallback is not NULL)
    fallbacks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class TokenCell:
    """Requests of one group with the same prompt size, and their completion tokens together.

    Enough to price them exactly: a price depends on the prompt size (it picks the rate tier)
    and is linear in completion tokens at a given prompt size.
    """

    prompt_tokens: int
    requests: int
    completion_tokens: int


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _grouped(
    window: Window,
    keys: Sequence[ColumnElement[Any]],
    columns: Sequence[ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]],
) -> tuple[Subquery, list[ColumnElement[Any]]]:
    """The window's rows with their keys as named columns k0..kn, and those columns."""
    inner = (
        select(*(key.label(f"k{i}") for i, key in enumerate(keys)), *columns)
        .where(*window.where(), *where)
        .subquery("w")
    )
    return inner, [inner.c[f"k{i}"] for i in range(len(keys))]


def first_request(engine: Engine, window: Window) -> datetime | None:
    """When the window's first request was logged; None when it holds none."""
    query = select(func.min(requests.c.created_at)).where(*window.where())
    with engine.connect() as conn:
        first: datetime | None = conn.execute(query).scalar()
    return first


def counts(
    engine: Engine,
    window: Window,
    keys: Sequence[ColumnElement[Any]] = (),
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[Key, Counts]:
    """``Counts`` per distinct value of ``keys`` among the window's rows matching ``where``."""
    c = requests.c
    inner, ks = _grouped(
        window,
        keys,
        [c.status, c.cost_usd, c.fallback, c.prompt_tokens, c.completion_tokens],
        where,
    )
    query = select(
        *ks,
        func.count(),
        _count_if(and_(inner.c.status >= 400, inner.c.status != CLIENT_CLOSED)),
        _count_if(inner.c.status == CLIENT_CLOSED),
        func.coalesce(func.sum(inner.c.cost_usd), 0.0),
        _count_if(inner.c.fallback.is_not(None)),
        _count_if(inner.c.fallback.is_(True)),
        func.coalesce(func.sum(inner.c.prompt_tokens), 0),
        func.coalesce(func.sum(inner.c.completion_tokens), 0),
    ).group_by(*ks)
    out: dict[Key, Counts] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            n = len(ks)
            values = [int(v or 0) for v in row[n : n + 3]] + [float(row[n + 3] or 0.0)]
            values += [int(v or 0) for v in row[n + 4 :]]
            if values[0]:
                out[tuple(row[:n])] = Counts(*values)  # type: ignore[arg-type]
    return out


def token_cells(
    engine: Engine,
    window: Window,
    keys: Sequence[ColumnElement[Any]] = (),
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[Key, list[TokenCell]]:
    """Per group, its requests by prompt size (``TokenCell``), to price them on any model."""
    c = requests.c
    inner, ks = _grouped(window, [*keys, c.prompt_tokens], [c.completion_tokens], where)
    query = select(*ks, func.count(), func.coalesce(func.sum(inner.c.completion_tokens), 0))
    out: dict[Key, list[TokenCell]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query.group_by(*ks)):
            *key, prompt, n, completion = row
            out.setdefault(tuple(key), []).append(TokenCell(int(prompt or 0), n, int(completion)))
    return out


def _lerp(low: float, high: float, t: float) -> float:
    # numpy's form, so that results agree with numpy.percentile to the last bit.
    diff = high - low
    return high - diff * (1 - t) if t >= 0.5 else low + diff * t


def percentiles(
    engine: Engine,
    window: Window,
    value: ColumnElement[Any],
    percents: Sequence[int],
    keys: Sequence[ColumnElement[Any]] = (),
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[Key, dict[int, float]]:
    """``numpy.percentile(values, p)`` of each group for each ``p`` in ``percents`` (NULLs out).

    The database ranks each group's values; only ranks within one of ``p/100 x (n-1)`` are read.
    """
    inner, ks = _grouped(window, keys, [value.label("v")], [*where, value.is_not(None)])
    partition = ks or None
    ranked = select(
        *ks,
        inner.c.v,
        (func.row_number().over(partition_by=partition, order_by=inner.c.v) - 1).label("r"),
        func.count().over(partition_by=partition).label("n"),
    ).subquery("ranked")
    rank, size = ranked.c.r, ranked.c.n
    near = or_(
        *(
            and_(rank * 100 >= p * (size - 1) - 100, rank * 100 <= p * (size - 1) + 100)
            for p in percents
        )
    )
    groups: dict[Key, tuple[int, dict[int, float]]] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(ranked).where(near)):
            *names, v, r, n = row
            groups.setdefault(tuple(names), (int(n), {}))[1][int(r)] = float(v)
    out: dict[Key, dict[int, float]] = {}
    for key, (n, values) in groups.items():
        wanted: dict[int, float] = {}
        for p in percents:
            position = (n - 1) * (p / 100)
            low = math.floor(position)
            high = min(low + 1, n - 1)
            wanted[p] = _lerp(values[low], values[high], position - low)
        out[key] = wanted
    return out


def bin_counts(
    engine: Engine,
    window: Window,
    value: ColumnElement[Any],
    edges: Sequence[float],
    where: Sequence[ColumnElement[bool]] = (),
) -> list[int]:
    """Counts of ``value`` in the bins between ``edges`` (the last bin closed, as numpy's)."""
    last = len(edges) - 2
    bin_of = case(*((value < edge, i) for i, edge in enumerate(edges[1:-1])), else_=last)
    inside = [value >= edges[0], value <= edges[-1]]
    _, ks = _grouped(window, [bin_of], [], [*where, *inside])
    out = [0] * (last + 1)
    with engine.connect() as conn:
        for row in conn.execute(select(*ks, func.count()).group_by(*ks)):
            out[int(row[0])] = int(row[1])
    return out


def period_of(starts: Sequence[datetime]) -> ColumnElement[Any]:
    """The index of the period (between consecutive ``starts``) each row's time falls in."""
    if len(starts) < 2:
        return case((requests.c.created_at.is_not(None), 0), else_=0)
    return case(
        *((requests.c.created_at < start, i) for i, start in enumerate(starts[1:])),
        else_=len(starts) - 1,
    )
