"""``tierroute report``: the request log as the write-up's results table, shadow and drift."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from tierroute.cli_loop_options import (
    ConfigOpt,
    DbOpt,
    ModelsOpt,
    SinceOpt,
    models_dir,
    open_engine_of,
    pct,
)
from tierroute.cli_options import (
    output_dir,
)
from tierroute.cli_support import (
    console,
    fail_on_errors,
    gateway_config,
)

if TYPE_CHECKING:
    from tierroute.reporting.build import Report, ReportFiles


def _print_report(built: Report, files: ReportFiles) -> None:
    from rich.markdown import Markdown

    from tierroute.reporting.markdown import breakdown_table, duration, money, results_table

    usage, drift = built.usage, built.drift
    console.print(
        f"last {built.since_text}: {usage.chat_requests:,} chat and "
        f"{usage.classify_requests:,} classify requests over "
        f"{duration(usage.span)} (monthly figures x {usage.months:,.2f})"
    )
    tables = [
        *results_table(usage),
        "",
        *breakdown_table(usage.by_tier_model, usage, ["tier", "model"]),
    ]
    # As _print_wide: figures are never cut, output to a pipe or file is laid out wide.
    wide = console if console.is_terminal else Console(width=max(console.width, 140))
    wide.print(Markdown("\n".join(tables)))
    for shadow in usage.shadow:
        console.print(
            f"shadow {shadow.challenger_model_id}: agrees on {shadow.agreement:.1%} of "
            f"{shadow.requests:,} requests; routing cost champion "
            f"{money(shadow.routed_cost_usd)} vs challenger {money(shadow.challenger_cost_usd)}"
        )
    for side in usage.by_side:
        console.print(
            f"canary side {side.key[0]}: {side.summary.requests:,} requests, error rate "
            f"{pct(side.summary.error_rate)}, fallback rate {pct(side.summary.fallback_rate)}"
        )
    if drift.distance_to_training is not None:
        routed = drift.distance_to_routed
        console.print(
            f"drift: tier-mix distance {drift.distance_to_training:.3f} to the training labels, "
            + ("n/a" if routed is None else f"{routed:.3f}")
            + " to the champion's held-out routing"
        )
    for note in [*usage.notes, *drift.notes]:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    console.print(f"report: {files.markdown} (+ {files.json.name}, {len(files.figures)} PNG)")


@fail_on_errors
def report(
    since: SinceOpt = "30d",
    compare_to: Annotated[
        Path | None,
        typer.Option(
            "--compare-to",
            help="Baseline figures, JSON or TOML (e.g. config/scenarios/writeup_before.toml).",
        ),
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    models: ModelsOpt = None,
    out: Annotated[
        Path,
        typer.Option(help="Folder for report.md, report.json and the PNGs.", callback=output_dir),
    ] = Path("reports/report"),
) -> None:
    """The request log as the write-up's results table, plus shadow agreement and drift."""
    from tierroute.reporting.build import (
        build_report,
        load_baseline,
        pricing_from_config,
        write_report,
    )
    from tierroute.store import utcnow

    baseline = load_baseline(compare_to) if compare_to is not None else None
    # Tier chains, prices and the log all come from one configuration, found once.
    gateway = gateway_config(config)
    pricing = pricing_from_config(gateway)
    engine = open_engine_of(db if db is not None else gateway.log.url)
    try:
        built = build_report(engine, since, utcnow(), pricing, models_dir(models), baseline)
    finally:
        engine.dispose()
    _print_report(built, write_report(built, out))
