"""Read the request log: cost summary, look-ups by request id. Reads only; writes live in writer.

The API's reads are scoped to one gateway key: ``owner`` is the keyed hash of the caller's key
(None: requests made without a key, on an open gateway), and ``ALL_KEYS`` (admin) lifts it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Engine, Select, case, func, select

from tierroute.store.records import utcnow
from tierroute.store.schema import feedback, requests


class _AllKeys:
    def __repr__(self) -> str:
        return "ALL_KEYS"


ALL_KEYS: Final = _AllKeys()
"""Scope that sees every key's requests (the admin key)."""

Owner = str | None | _AllKeys


def _owned_by(owner: Owner) -> list[ColumnElement[bool]]:
    if isinstance(owner, _AllKeys):
        return []
    if owner is None:
        return [requests.c.api_key_hash.is_(None)]
    return [requests.c.api_key_hash == owner]


def _group(rows: Any, key: str) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        count = int(row.requests)
        cost = float(row.cost_usd or 0.0)
        out.append(
            {
                key: getattr(row, key),
                "requests": count,
                "errors": int(row.errors or 0),
                "prompt_tokens": int(row.prompt_tokens or 0),
                "completion_tokens": int(row.completion_tokens or 0),
                "total_tokens": int(row.prompt_tokens or 0) + int(row.completion_tokens or 0),
                "cost_usd": round(cost, 8),
                "avg_cost_per_request": round(cost / count, 10) if count else 0.0,
            }
        )
    return out


def cost_summary(
    engine: Engine, hours: float, now: datetime | None = None, *, owner: Owner = ALL_KEYS
) -> dict[str, Any]:
    """Chat requests, tokens and cost over the last ``hours``: totals, by model and by tier.

    Only ``owner``'s requests (see the module doc); every key's by default.

    The write-up's ``get_cost_summary`` (total requests, tokens, cost, average cost per request,
    per model), plus the split by tier and the error count.
    """
    end = now or utcnow()
    since = end - timedelta(hours=hours)
    columns = (
        func.count().label("requests"),
        func.sum(case((requests.c.status >= 400, 1), else_=0)).label("errors"),
        func.sum(requests.c.prompt_tokens).label("prompt_tokens"),
        func.sum(requests.c.completion_tokens).label("completion_tokens"),
        func.sum(requests.c.cost_usd).label("cost_usd"),
    )
    where = (
        requests.c.endpoint == "chat",
        requests.c.created_at >= since,
        requests.c.created_at <= end,
        *_owned_by(owner),
    )

    def costliest_first(key: ColumnElement[Any]) -> Select[Any]:
        return (
            select(key, *columns)
            .where(*where)
            .group_by(key)
            .order_by(func.sum(requests.c.cost_usd).desc(), key)
        )

    with engine.connect() as conn:
        total = conn.execute(select(*columns).where(*where)).one()
        by_model = conn.execute(costliest_first(requests.c.model)).all()
        by_tier = conn.execute(costliest_first(requests.c.tier)).all()
    totals = _group([total], "requests")[0]
    totals.pop("requests")
    return {
        "hours": hours,
        "since": since.isoformat() + "Z",
        "until": end.isoformat() + "Z",
        "total_requests": int(total.requests),
        **totals,
        "by_model": _group(by_model, "model"),
        "by_tier": _group(by_tier, "tier"),
    }


def request_exists(engine: Engine, request_id: str, *, owner: Owner = ALL_KEYS) -> bool:
    """Whether a request with this id was logged (by ``owner``'s key; any key by default)."""
    query = select(requests.c.id).where(requests.c.request_id == request_id, *_owned_by(owner))
    with engine.connect() as conn:
        found = conn.execute(query.limit(1)).first()
    return found is not None


def get_requests(
    engine: Engine, request_id: str | None = None, *, client_request_id: str | None = None
) -> list[dict[str, Any]]:
    """Logged request rows (all, or those of one gateway or client request id), oldest first."""
    query = select(requests).order_by(requests.c.id)
    if request_id is not None:
        query = query.where(requests.c.request_id == request_id)
    if client_request_id is not None:
        query = query.where(requests.c.client_request_id == client_request_id)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def get_feedback(engine: Engine, request_id: str | None = None) -> list[dict[str, Any]]:
    """Stored feedback labels (all, or those of one request id), oldest first."""
    query = select(feedback).order_by(feedback.c.id)
    if request_id is not None:
        query = query.where(feedback.c.request_id == request_id)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
