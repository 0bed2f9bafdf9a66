"""``tierroute report --since 30d``: the request log turned into the write-up's results, and more.

``build_report`` aggregates a window of the log in SQL (``queries``) into the usage (``usage``: the results
table of monthly cost, P50/P99 latency and error rate, by tier and model, against everything on
the top model and an optional baseline such as ``config/scenarios/writeup_before.toml``; the
canary's sides; the shadow agreement matrix and the challenger's routing cost) and the drift
(``drift``: tier mix and confidence over time against the champion's own). ``write_report``
writes ``report.md``, ``report.json`` and the PNGs (``plots``) into one folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from tierroute.classifier.artifacts import read_card, resolve_model_dir
from tierroute.exceptions import DataError, ModelError
from tierroute.period import parse_period
from tierroute.reporting.baseline import Baseline, load_baseline
from tierroute.reporting.costs import Pricing, pricing_from_config
from tierroute.reporting.drift import Drift, champion_reference, drift
from tierroute.reporting.markdown import render
from tierroute.reporting.plots import (
    plot_agreement,
    plot_confidence,
    plot_cost,
    plot_sides,
    plot_tier_mix,
)
from tierroute.reporting.queries import Window, first_request
from tierroute.reporting.usage import UsageReport, usage_report
from tierroute.tiers import DEFAULT_TIERS

__all__ = [
    "Baseline",
    "Report",
    "ReportFiles",
    "build_report",
    "load_baseline",
    "pricing_from_config",
    "write_report",
]


@dataclass(frozen=True)
class Report:
    """Usage and drift of one window of the request log."""

    since_text: str
    usage: UsageReport
    drift: Drift

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times in ISO 8601 UTC, durations in seconds)."""
        data: dict[str, Any] = json.loads(json.dumps(asdict(self), default=_json_default))
        return data


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, BaseModel):
        return value.model_dump()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _tier_order(models_root: Path) -> list[str]:
    try:
        return list(read_card(resolve_model_dir(models_root)).tiers)
    except ModelError:
        return list(DEFAULT_TIERS)


def build_report(
    engine: Engine,
    since_text: str,
    now: datetime,
    pricing: Pricing,
    models_root: Path,
    baseline: Baseline | None = None,
) -> Report:
    """The report of the log's last ``since_text`` (``30d``) up to ``now`` (naive UTC).

    DataError when the window holds no request (most likely the wrong log or period).
    """
    since = now - parse_period(since_text)
    window = Window(since, now)
    if first_request(engine, window) is None:
        raise DataError(
            f"no requests logged between {since:%Y-%m-%d %H:%M} and {now:%Y-%m-%d %H:%M} UTC "
            f"in {engine.url.render_as_string(hide_password=True)}"
        )
    usage = usage_report(engine, window, pricing, _tier_order(models_root), baseline)
    reference, notes = champion_reference(models_root)
    found = drift(engine, window, usage.first_request, usage.span, reference, notes)
    return Report(since_text, usage, found)


@dataclass(frozen=True)
class ReportFiles:
    """What ``write_report`` wrote."""

    markdown: Path
    json: Path
    figures: list[Path]


def write_report(report: Report, out: Path) -> ReportFiles:
    """``report.md``, ``report.json`` and the PNGs, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    usage, drift_ = report.usage, report.drift
    figures: dict[str, Path] = {}
    if usage.total.requests:
        figures["Monthly cost by tier"] = plot_cost(usage, out / "cost.png")
    if drift_.periods:
        figures["Tier mix over time"] = plot_tier_mix(drift_, out / "tier_mix.png")
        figures["Confidence"] = plot_confidence(drift_, out / "confidence.png")
    if usage.by_side:
        figures["Canary vs champion side"] = plot_sides(usage.by_side, out / "canary.png")
    for shadow in usage.shadow:
        name = f"agreement_{shadow.challenger_model_id}.png"
        figures[f"Shadow agreement, {shadow.challenger_model_id}"] = plot_agreement(
            shadow, out / name
        )
    markdown = out / "report.md"
    markdown.write_text(
        render(usage, drift_, {k: p.name for k, p in figures.items()}, report.since_text),
        encoding="utf-8",
    )
    data = out / "report.json"
    data.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return ReportFiles(markdown, data, list(figures.values()))
