"""``tierroute simulate``: a cost scenario priced, or logged traffic replayed under other policies."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tierroute.cli_loop_options import (
    ConfigOpt,
    DbOpt,
    SinceOpt,
    open_log,
    pct,
    print_wide,
    since_start,
)
from tierroute.cli_options import (
    FRACTION,
    output_dir,
)
from tierroute.cli_support import (
    console,
    fail_on_errors,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tierroute.simulation.replay import PolicyPoint, ReplayInput
    from tierroute.simulation.simulate import CostLine, Simulation


def _money(value: Decimal | float | None) -> str:
    return "" if value is None else f"${value:,.2f}"


def _rate(line: CostLine) -> str:
    price = line.price
    if price.flat is not None:
        return f"{price.flat:g} flat"
    return f"{price.input_rate(line.input_tokens):g} / {price.output_rate(line.input_tokens):g}"


def _print_simulation(sim: Simulation) -> None:
    title = f"{sim.scenario.name or 'scenario'}: {sim.pricing} prices"
    table = Table(title=title)
    for column in (
        "tier",
        "share",
        "requests",
        "model",
        "tokens in/out",
        "tokens",
        "$/MTok",
        "cost",
    ):
        table.add_column(column, justify="left" if column in ("tier", "model") else "right")
    for line in sim.lines:
        table.add_row(
            line.tier,
            f"{(100 * line.share).normalize():f} %",
            f"{line.requests:,.0f}",
            line.model,
            f"{line.input_tokens:g} / {line.output_tokens:g}",
            f"{line.tokens / 1_000_000:,.0f}M",
            _rate(line),
            _money(line.cost),
        )
    total_tokens = sum(line.tokens for line in sim.lines) / 1_000_000
    table.add_row(
        "total",
        "100 %",
        f"{sim.requests:,.0f}",
        "",
        "",
        f"{total_tokens:,.0f}M",
        "",
        _money(sim.total),
        style="bold",
    )
    print_wide(table)
    savings = sim.savings
    if sim.baseline is not None and savings is not None:
        verdict = f"saves {savings:.1%}" if savings >= 0 else f"costs {-savings:.1%} more"
        console.print(
            f"everything on {sim.scenario.baseline_model}: {_money(sim.baseline)} a month; "
            f"routing {verdict}"
        )
    elif sim.scenario.baseline_model:
        console.print(f"no {sim.pricing} price for the baseline {sim.scenario.baseline_model}")
    reference = sim.scenario.reference_usd
    if reference:
        change = sim.total / reference - 1
        console.print(
            f"{sim.scenario.reference_label}: {_money(reference)}; this total is "
            f"{abs(change):.1%} {'above' if change >= 0 else 'below'} it"
        )


def _print_replay(
    points: Sequence[PolicyPoint], replay_input: ReplayInput, png: Path, model: str
) -> None:
    table = Table(title=f"replayed traffic ({len(replay_input.rows)} requests), model {model}")
    for column in (
        "policy",
        "threshold",
        "cost",
        "per month",
        "labeled",
        "under",
        "over",
        "accuracy",
        "fallback",
    ):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for p in points:
        table.add_row(
            p.policy,
            "" if p.threshold is None else f"{p.threshold:.2f}",
            f"${p.cost_usd:,.4f}",
            _money(p.monthly_usd),
            str(p.labeled),
            pct(p.under_routing_rate),
            pct(p.over_routing_rate),
            pct(p.accuracy),
            pct(p.fallback_rate),
        )
    print_wide(table)
    if replay_input.without_text or replay_input.not_routed:
        console.print(
            f"left out: {replay_input.without_text} request(s) without stored text, "
            f"{replay_input.not_routed} not routed by the classifier (concrete model names)"
        )
    console.print(f"curve: {png}")


@fail_on_errors
def simulate(
    scenario: Annotated[
        Path, typer.Option("--scenario", help="Scenario TOML (config/scenarios/).")
    ],
    pricing: Annotated[
        str, typer.Option(help="flat (the write-up's arithmetic), genai-prices, or both.")
    ] = "both",
    from_logs: Annotated[
        bool, typer.Option("--from-logs", help="Replay the request log at several thresholds.")
    ] = False,
    since: SinceOpt = "30d",
    threshold: Annotated[
        list[float] | None,
        typer.Option(
            "--threshold", help="Thresholds to replay, 0..1 (repeatable).", callback=FRACTION
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Model directory or models root (default: champion)."),
    ] = None,
    default_tier: Annotated[
        str | None,
        typer.Option(help="Replay with another fallback tier for low-confidence queries."),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for the replay's PNG and JSON.", callback=output_dir)
    ] = Path("reports/simulate"),
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Monthly cost of a routing policy: the scenario's traffic, or the logged traffic replayed."""
    from tierroute.simulation.scenario import PRICINGS, load_scenario
    from tierroute.simulation.simulate import simulate as run_simulation

    if pricing not in (*PRICINGS, "both"):
        raise typer.BadParameter(f"--pricing: {pricing!r}; use flat, genai-prices or both")
    loaded = load_scenario(scenario)
    if not from_logs:
        kinds = PRICINGS if pricing == "both" else (pricing,)
        for kind in kinds:
            _print_simulation(run_simulation(loaded, kind))  # type: ignore[arg-type]
        return
    from tierroute import load_model
    from tierroute.simulation.plots import plot_cost_curve
    from tierroute.simulation.replay import DEFAULT_THRESHOLDS, replay, replay_rows
    from tierroute.store.labels import logged_rows

    kind = "genai-prices" if pricing == "both" else pricing
    tier_model = load_model(model)
    engine = open_log(db, config)
    try:
        replay_input = replay_rows(
            logged_rows(engine, since_start(since), include_bare_labels=False)
        )
    finally:
        engine.dispose()
    points = replay(
        replay_input.rows,
        tier_model,
        loaded,
        thresholds=tuple(threshold) if threshold else DEFAULT_THRESHOLDS,
        pricing=kind,  # type: ignore[arg-type]
        default_tier=default_tier,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "replay.json").write_text(
        json.dumps([p.to_dict() for p in points], indent=2) + "\n", encoding="utf-8"
    )
    png = plot_cost_curve(points, out / "replay.png")
    fallback = default_tier or tier_model.default_tier
    _print_replay(points, replay_input, png, f"{tier_model.model_id}, fallback to {fallback}")
