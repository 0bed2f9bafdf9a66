"""The Markdown of ``tierroute report``: tables in the write-up's terms, figures linked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from tierroute.reporting.drift import Drift
from tierroute.reporting.shadow import ShadowComparison
from tierroute.reporting.usage import Group, Summary, UsageReport

MAX_PERIOD_ROWS = 60  # the PNG shows every period; the table the latest ones


def money(value: float | None) -> str:
    """``$1,234.56`` (cents below $10: ``$0.0042``)."""
    if value is None:
        return "n/a"
    return f"${value:,.2f}" if abs(value) >= 10 else f"${value:,.4f}"


def ms(value: float | None) -> str:
    """Milliseconds, whole above 10."""
    if value is None:
        return "n/a"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def pct(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage."""
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table (first column left-aligned, the rest right-aligned)."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _change(after: float | None, before: float | None) -> str:
    if after is None or not before:
        return ""
    change = after / before - 1
    return f"{change:+.1%}"


def results_table(usage: UsageReport) -> list[str]:
    """The write-up's results table: baseline (if any), this log, and the top-model counterfactual."""
    total = usage.total
    base = usage.baseline
    top = f"everything on {usage.top_model}" if usage.top_model else "everything on the top model"
    header = ["metric", *([base.label] if base else []), "routed (this log)"]
    header += [*(["change"] if base else []), top]
    metrics: list[tuple[str, float | None, float | None, str, float | None, str]] = [
        (
            "monthly cost",
            base.monthly_cost_usd if base else None,
            total.monthly_usd,
            "money",
            total.top_model_monthly_usd,
            "money",
        ),
        ("P50 latency", base.p50_latency_ms if base else None, total.p50_ms, "ms", None, ""),
        ("P99 latency", base.p99_latency_ms if base else None, total.p99_ms, "ms", None, ""),
        ("error rate", base.error_rate if base else None, total.error_rate, "pct", None, ""),
    ]
    fmt = {"money": money, "ms": ms, "pct": pct}
    rows = []
    for name, before, after, kind, counterfactual, cf_kind in metrics:
        row = [name]
        if base:
            row.append(fmt[kind](before))
        row.append(fmt[kind](after))
        if base:
            row.append(_change(after, before))
        row.append(fmt[cf_kind](counterfactual) if cf_kind else "")
        rows.append(row)
    return table(header, rows)


def _summary_row(label: Sequence[str], s: Summary, total: int, top: bool) -> list[str]:
    row = [
        *label,
        f"{s.requests:,}",
        pct(s.requests / total if total else None, 1),
        pct(s.error_rate),
        ms(s.p50_ms),
        ms(s.p99_ms),
        money(s.cost_usd),
        money(s.monthly_usd),
    ]
    if top:
        row.append(money(s.top_model_monthly_usd))
    return row


def breakdown_table(groups: Sequence[Group], usage: UsageReport, label: Sequence[str]) -> list[str]:
    """Per group: requests, share, error rate, latency, cost, monthly, and on the top model."""
    top = usage.top_model is not None
    header = [*label, "requests", "share", "error rate", "P50", "P99", "cost (window)", "per month"]
    if top:
        header.append("on top model / month")
    total = usage.total.requests
    rows = [_summary_row(g.key, g.summary, total, top) for g in groups]
    rows.append(_summary_row(["**total**", *[""] * (len(label) - 1)], usage.total, total, top))
    return table(header, rows)


def sides_table(groups: Sequence[Group]) -> list[str]:
    """The canary against the champion side."""
    rows = [
        [
            g.key[0],
            f"{g.summary.requests:,}",
            pct(g.summary.error_rate),
            pct(g.summary.fallback_rate),
            ms(g.summary.p50_ms),
            ms(g.summary.p99_ms),
            money(1000 * g.summary.cost_usd / g.summary.requests if g.summary.requests else None),
        ]
        for g in groups
    ]
    header = ["side", "requests", "error rate", "fallback rate", "P50", "P99", "cost / 1,000"]
    return table(header, rows)


def shadow_section(shadow: ShadowComparison) -> list[str]:
    """Agreement matrix and the challenger's routing cost."""
    lines = [
        f"### Challenger {shadow.challenger_model_id}",
        "",
        f"Scored in shadow beside {', '.join(shadow.champion_model_ids) or 'the champion'} on "
        f"{shadow.requests:,} requests; the two agree on **{shadow.agreement:.1%}**. Rows: the "
        "champion's tier (which routed), columns: the challenger's.",
        "",
    ]
    lines += table(
        ["champion \\ challenger", *shadow.tiers],
        (
            [tier, *(f"{n:,}" for n in row)]
            for tier, row in zip(shadow.tiers, shadow.matrix, strict=True)
        ),
    )
    lines += [
        "",
        f"On the {shadow.priced_requests:,} shadowed chat requests with token counts "
        "(each priced on the primary model of the tier each classifier chose):",
        "",
    ]
    lines += table(
        ["routing", "cost (window)", "per month"],
        [
            ["logged (what was paid)", money(shadow.logged_cost_usd), ""],
            ["champion's tiers", money(shadow.routed_cost_usd), money(shadow.monthly_routed_usd)],
            [
                "challenger's tiers",
                money(shadow.challenger_cost_usd),
                money(shadow.monthly_challenger_usd),
            ],
        ],
    )
    if shadow.routed_cost_usd and shadow.challenger_cost_usd is not None:
        lines += [
            "",
            f"The challenger's routing would cost {_change(shadow.challenger_cost_usd, shadow.routed_cost_usd)} "
            "against the champion's on the same requests.",
        ]
    return lines


def _mix_row(label: str, mix: Mapping[str, float] | None, tiers: Sequence[str]) -> list[str]:
    return [label, *(pct(mix.get(t, 0.0), 1) if mix is not None else "n/a" for t in tiers)]


def drift_section(drift: Drift) -> list[str]:
    """Tier mix and confidence: the window and each period against the champion's reference."""
    ref = drift.reference
    tiers = sorted(
        {*drift.mix, *(ref.training_mix if ref else {}), *((ref.routed_mix or {}) if ref else {})}
    )
    lines: list[str] = []
    if ref is None:
        lines.append("No reference: the champion's model card could not be read.")
    else:
        lines.append(
            f"Reference: champion {ref.model_id}: the tier mix of its training labels and, on its "
            f"held-out evaluation set ({ref.eval_rows:,} rows), the tiers it routes to and its "
            "confidence. Distance: total variation (0: same mix, 1: disjoint)."
        )
    lines.append("")
    rows = []
    if ref is not None:
        rows.append(_mix_row("training labels", ref.training_mix, tiers))
        rows.append(_mix_row("held-out, routed", ref.routed_mix, tiers))
    rows.append(_mix_row(f"logged ({drift.requests:,} routed)", drift.mix, tiers))
    lines += table(["tier mix", *tiers], rows)
    lines += [
        "",
        f"Distance of the logged mix to the training labels: "
        f"{_num(drift.distance_to_training)}; to the held-out routed mix: {_num(drift.distance_to_routed)}.",
        f"Median confidence: logged {_num(drift.confidence_median)}, held-out "
        f"{_num(ref.confidence_median if ref else None)}; fallback rate (below the threshold "
        f"{_num(ref.threshold if ref else None, 2)}): logged {pct(drift.fallback_rate, 1)}, held-out "
        f"{pct(ref.fallback_rate if ref else None, 1)}.",
        "",
    ]
    periods = drift.periods[-MAX_PERIOD_ROWS:]
    if len(drift.periods) > len(periods):
        lines += [
            f"The latest {len(periods)} of {len(drift.periods)} {drift.bucket}s (all in the PNG):",
            "",
        ]
    fmt = "%Y-%m-%d %H:00" if drift.bucket == "hour" else "%Y-%m-%d"
    lines += table(
        [drift.bucket, "requests", *tiers, "median conf.", "p10 conf.", "fallback", "distance"],
        (
            [
                p.start.strftime(fmt),
                f"{p.requests:,}",
                *(pct(p.mix.get(t, 0.0), 1) for t in tiers),
                _num(p.confidence_median),
                _num(p.confidence_p10),
                pct(p.fallback_rate, 1),
                _num(p.distance_to_reference),
            ]
            for p in periods
        ),
    )
    return lines


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def duration(span: timedelta) -> str:
    """``42 min``, ``7.5 h`` or ``5.02 days``."""
    seconds = span.total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.2f} days"


def render(usage: UsageReport, drift: Drift, figures: Mapping[str, str], since_text: str) -> str:
    """The whole report as Markdown; ``figures`` maps a caption to a PNG file name."""
    lines = [
        f"# tierroute report: last {since_text}",
        "",
        f"Window {usage.since:%Y-%m-%d %H:%M} to {usage.until:%Y-%m-%d %H:%M} UTC. Traffic observed "
        f"over {duration(usage.span)}; monthly figures extrapolate it to 30 days (x {usage.months:,.2f}). "
        f"{usage.chat_requests:,} chat and {usage.classify_requests:,} classify requests; "
        "classifier versions: "
        + (", ".join(f"{m} ({n:,})" for m, n in usage.model_ids.items()) or "none")
        + ".",
        "",
        "## Results",
        "",
    ]
    lines += results_table(usage)
    total = usage.total
    if total.top_model_monthly_usd:
        saving = 1 - total.monthly_usd / total.top_model_monthly_usd
        lines += [
            "",
            f"Routing costs {money(total.monthly_usd)} a month against "
            f"{money(total.top_model_monthly_usd)} with every request on {usage.top_model}: "
            f"{'saves' if saving >= 0 else 'costs'} {abs(saving):.1%}.",
        ]
    lines += [
        "",
        "Latency percentiles are over answered requests; the error rate counts statuses of 400 "
        f"and above ({total.errors:,} of {total.requests - total.abandoned:,}; "
        f"{total.abandoned:,} abandoned by their client are not counted).",
        "",
        "## By tier and model",
        "",
    ]
    lines += breakdown_table(usage.by_tier_model, usage, ["tier", "model"])
    if usage.by_side:
        lines += ["", "## Canary", "", *sides_table(usage.by_side)]
    lines += ["", "## Shadow", ""]
    if usage.shadow:
        for i, shadow in enumerate(usage.shadow):
            lines += [*([""] if i else []), *shadow_section(shadow)]
    else:
        lines.append("No challenger scored requests in this window ([rollout] challenger).")
    lines += ["", "## Drift", "", *drift_section(drift)]
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"![{caption}]({name})" for caption, name in figures.items()]
    notes = [*usage.notes, *drift.notes]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
