"""The learning-loop commands: ``logs export|label``, ``retrain``, ``models ...``, ``simulate``.

Thin, like the rest of the CLI: parse, call the library (``retraining``, ``reporting``, ``simulation``), print with rich.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tierroute.cli_options import (
    AT_LEAST_ONE,
    AT_LEAST_TWO,
    FRACTION,
    POSITIVE,
    SHARE_BELOW_ONE,
    output_dir,
    output_file,
)
from tierroute.cli_support import (
    console,
    err_console,
    fail_on_errors,
    gateway_config,
    load_rows,
    metrics_table,
    progress_steps,
)
from tierroute.exceptions import DataError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Engine

    from tierroute.reporting.build import Report, ReportFiles
    from tierroute.retraining.retrain import RetrainResult
    from tierroute.simulation.replay import PolicyPoint, ReplayInput
    from tierroute.simulation.simulate import CostLine, Simulation

logs_app = typer.Typer(
    help="The request log: export it, import corrected labels.", no_args_is_help=True
)
models_app = typer.Typer(
    help="Model versions: list, show, promote, roll back the champion.", no_args_is_help=True
)

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Request-log database URL (default: the gateway config's log.url)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Gateway TOML whose log.url to use (default: $TIERROUTE_CONFIG, else "
        "./tierroute.toml, else built-in).",
    ),
]
ModelsOpt = Annotated[
    Path | None,
    typer.Option("--models", help="Models root (default: TIERROUTE_MODELS_DIR or models/)."),
]
BaseOpt = Annotated[list[Path], typer.Option("--base", help="Base labeled data (repeatable).")]
SinceOpt = Annotated[
    str, typer.Option("--since", help="Look-back period by request time: 90m, 12h, 7d, 2w.")
]


def _models_dir(models: Path | None) -> Path:
    from tierroute.config import get_settings

    return models if models is not None else get_settings().models_dir


def _open_log(db: str | None, config: Path | None) -> Engine:
    """The request log named by --db, else by the configuration's log.url (found, announced)."""
    return _open_engine(db if db is not None else gateway_config(config).log.url)


def _open_engine(url: str) -> Engine:
    """The request log at ``url``; a SQLite file that does not exist is an error, not created."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from tierroute.store import normalize_url, open_engine

    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        return open_engine(url)  # raises the ConfigError that names the bad URL
    database = parsed.database or ""
    if (
        parsed.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
        and not Path(database).expanduser().is_file()
    ):
        raise DataError(f"no request log at {database} (give --db URL or --config FILE)")
    return open_engine(url)


def _start(since: str) -> datetime:
    from tierroute.period import since as period_start
    from tierroute.store import utcnow

    return period_start(since, utcnow())


def _print_wide(table: Table) -> None:
    # Figures must never be cut to "…": cells fold in a narrow terminal, and output that goes to
    # a pipe or file (80 columns by default) is laid out 120 wide.
    for column in table.columns:
        column.overflow = "fold"
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=max(console.width, 120)).print(table)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f} %"


# ---------------------------------------------------------------------------- logs


@logs_app.command("export")
@fail_on_errors
def logs_export(
    out: Annotated[Path, typer.Option("--out", help="JSONL file to write.", callback=output_file)],
    since: SinceOpt = "7d",
    labeled_only: Annotated[
        bool,
        typer.Option("--labeled-only", help="Only rows with a human label (a labeled data file)."),
    ] = False,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write request-log rows with their latest human label (`tier`, null if none) as JSONL."""
    from tierroute.retraining.export import export_logs

    engine = _open_log(db, config)
    try:
        summary = export_logs(engine, _start(since), out, labeled_only=labeled_only)
    finally:
        engine.dispose()
    console.print(
        f"wrote {summary.rows} row(s) to {out}: {summary.labeled} labeled "
        f"({summary.bare_labels} on bare texts)"
    )
    if summary.labeled_without_text:
        note = "left out" if labeled_only else "exported without text"
        console.print(
            f"[yellow]{summary.labeled_without_text} labeled request(s) have no stored text "
            f"(log.store_text off): {note}[/]"
        )


@logs_app.command("label")
@fail_on_errors
def logs_label(
    input: Annotated[
        Path,
        typer.Option("--input", help="JSONL or CSV: `request_id` or `text`, and `tier` per row."),
    ],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Store the valid rows; report the bad ones.")
    ] = False,
    db: DbOpt = None,
    config: ConfigOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Import corrected labels in bulk (the same feedback table as POST /v1/feedback)."""
    from tierroute.classifier.artifacts import read_card
    from tierroute.classifier.registry import ModelRegistry
    from tierroute.retraining.label_file import import_labels
    from tierroute.tiers import DEFAULT_TIERS

    registry = ModelRegistry(_models_dir(models))
    current = registry.champion_id()
    tiers = read_card(registry.champion_dir()).tiers if current else list(DEFAULT_TIERS)
    engine = _open_log(db, config)
    try:
        result = import_labels(engine, input, tiers, skip_invalid=skip_invalid)
    finally:
        engine.dispose()
    for issue in result.skipped:
        err_console.print(
            f"[yellow]skipped[/] {escape(str(issue))}", highlight=False, soft_wrap=True
        )
    console.print(
        f"stored {result.stored} label(s): {result.by_request} by request id, "
        f"{result.by_text} by text; " + ", ".join(f"{tier} {n}" for tier, n in result.tiers.items())
    )
    if result.unlabeled:
        console.print(f"{result.unlabeled} unlabeled row(s) skipped (no tier)")
    if result.duplicates:
        console.print(f"merged {result.duplicates} duplicate row(s) (same query, same tier)")


# ---------------------------------------------------------------------------- retrain


@fail_on_errors
def retrain(
    from_logs: Annotated[
        bool, typer.Option("--from-logs", help="Add the labeled request log to the base data.")
    ] = False,
    since: SinceOpt = "30d",
    base: BaseOpt = [Path("data/raw")],  # noqa: B006  (typer needs a literal default)
    promote: Annotated[
        bool, typer.Option("--promote", help="Make the candidate champion if the gate passes.")
    ] = False,
    db: DbOpt = None,
    config: ConfigOpt = None,
    models: ModelsOpt = None,
    holdout: Annotated[
        float,
        typer.Option(
            help="Share of the newest labeled logs held out of training, 0<=x<1.",
            callback=SHARE_BELOW_ONE,
        ),
    ] = 0.2,
    under_tolerance: Annotated[
        float,
        typer.Option(
            help="Allowed rise of the under-routing rate, 0..1 (0: none).", callback=FRACTION
        ),
    ] = 0.0,
    resamples: Annotated[
        int, typer.Option(help="Bootstrap resamples of the gate, >= 1.", callback=AT_LEAST_ONE)
    ] = 2000,
    cv_folds: Annotated[
        int, typer.Option(help="Cross-validation folds of training, >= 2.", callback=AT_LEAST_TWO)
    ] = 5,
    c: Annotated[
        list[float] | None,
        typer.Option("--c", help="Grid of C values, each > 0 (repeatable).", callback=POSITIVE),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Leave out bad base rows (still reported).")
    ] = False,
) -> None:
    """Train a candidate on base data (+ labeled logs), compare it with the champion, gate it."""
    from tierroute.classifier.train import TrainOptions
    from tierroute.retraining.gate import GatePolicy
    from tierroute.retraining.retrain import RetrainOptions
    from tierroute.retraining.retrain import retrain as run_retrain
    from tierroute.store.labels import labels_since

    loaded = load_rows(base, skip_invalid)
    start = _start(since) if from_logs else None
    logged = []
    if start is not None:
        engine = _open_log(db, config)
        try:
            logged = labels_since(engine, start)
        finally:
            engine.dispose()
    defaults = TrainOptions()
    options = RetrainOptions(
        holdout_fraction=holdout,
        train=TrainOptions(cv_folds=cv_folds, c_grid=tuple(c) if c else defaults.c_grid),
        gate=GatePolicy(resamples=resamples, under_routing_tolerance=under_tolerance),
        promote=promote,
    )
    steps = [
        "grid search",
        "out-of-fold calibration",
        "final fit",
        "threshold",
        "evaluate",
        "save",
        "compare",
    ]
    with progress_steps("retraining", len(steps)) as on_step:
        result = run_retrain(
            _models_dir(models),
            loaded.rows,
            logged,
            since=start,
            base_files=[str(p) for p in loaded.files],
            options=options,
            step=on_step,
        )
    _print_retrain(result)


def _print_retrain(result: RetrainResult) -> None:
    labels = result.labels
    console.print(
        f"champion [bold]{result.champion_id}[/]; frozen evaluation set {result.frozen_rows} rows"
    )
    if result.since is not None:
        console.print(
            f"request log since {result.since:%Y-%m-%d %H:%M} UTC: {labels.labels} label(s) -> "
            f"{len(labels.examples)} labeled text(s) ({labels.without_text} without stored text); "
            f"newest {len(result.holdout)} held out of training"
        )
    merged = result.merged
    console.print(
        f"training rows: {merged.from_base} base + {merged.from_log} from the log "
        f"({merged.confirmed} log label(s) agree with the base) -> {result.train_rows} after "
        f"keeping the frozen set and the held-out logs out"
        + (
            f"; {result.frozen_in_logs} logged text(s) are in the frozen set"
            if result.frozen_in_logs
            else ""
        )
    )
    if result.conflicts:
        console.print(
            f"[yellow]{len(result.conflicts)} label conflict(s); the latest human label wins:[/]"
        )
        for conflict in result.conflicts[:10]:
            console.print(f"  {escape(conflict.describe())}", highlight=False)
        if len(result.conflicts) > 10:
            console.print(f"  ... and {len(result.conflicts) - 10} more (see the report)")

    console.print(f"candidate [bold]{result.candidate_id}[/]")
    frozen_title = f"frozen evaluation set ({result.frozen_rows} rows, never trained on)"
    _print_wide(metrics_table(frozen_title, result.frozen))
    if result.newest:
        newest_title = f"newest labeled logs ({len(result.holdout)} rows, not trained on)"
        _print_wide(metrics_table(newest_title, result.newest))
    verdict = result.verdict
    word = "[bold green]PROMOTE[/]" if verdict.promote else "[bold red]REFUSE[/]"
    console.print(f"gate: {word}")
    for reason in verdict.reasons:
        console.print(f"  {escape(reason)}", highlight=False)
    if result.promoted:
        console.print(f"champion is now [bold]{result.candidate_id}[/] (was {result.champion_id})")
    elif verdict.promote:
        console.print(f"champion unchanged ({result.champion_id}); pass --promote to promote")
    else:
        console.print(f"champion stays {result.champion_id}; the candidate is kept on disk")
    console.print(f"report: {result.report}")


# ---------------------------------------------------------------------------- models


@models_app.command("list")
@fail_on_errors
def models_list(models: ModelsOpt = None) -> None:
    """Every model version, oldest first; the champion marked."""
    from tierroute.classifier.registry import ModelRegistry

    root = _models_dir(models)
    registry = ModelRegistry(root)
    current = registry.champion_id()
    # Fits 80 columns with every model id whole (ids are copied into commands): light borders,
    # and the creation time is already the id's first part.
    table = Table(
        title=f"models in {root}", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False
    )
    for column in ("", "model id", "rows", "eval set", "macro-F1", "under", "threshold"):
        table.add_column(
            column,
            no_wrap=column != "eval set",
            justify="left" if column in ("model id", "eval set") else "right",
        )
    for card in registry.models():
        metrics = card.metrics.get("model", {})
        kind = str(card.metrics.get("eval_set", "")).split(" ")[0]
        table.add_row(
            "*" if card.model_id == current else "",
            card.model_id,
            str(card.training_data.get("rows", "")),
            f"{card.training_data.get('eval_rows', '?')} {kind}",
            f"{metrics['macro_f1']:.3f}" if "macro_f1" in metrics else "",
            _pct(metrics.get("under_routing_rate")),
            f"{card.threshold:.2f}",
        )
    _print_wide(table)
    console.print(f"champion: {current or 'none'}")
    for change in registry.history()[-5:]:
        console.print(
            f"  {change.at} {change.action} {change.previous or '-'} -> {change.champion}: "
            f"{escape(change.reason)}",
            highlight=False,
        )


@models_app.command("show")
@fail_on_errors
def models_show(
    model_id: Annotated[str, typer.Argument(help="A model id, or `champion`.")],
    models: ModelsOpt = None,
) -> None:
    """One model's card (provenance, policy, metrics) and its retrain report if it has one."""
    from tierroute.classifier.artifacts import read_card
    from tierroute.classifier.registry import ModelRegistry

    root = _models_dir(models)
    registry = ModelRegistry(root)
    model_dir = registry.champion_dir() if model_id == "champion" else registry.model_dir(model_id)
    model_id = model_dir.name
    card = read_card(model_dir)
    console.print_json(card.model_dump_json())
    report = root / model_id / "report" / "retrain.json"
    if report.is_file():
        gate = json.loads(report.read_text(encoding="utf-8"))["gate"]
        verdict = "promote" if gate["promote"] else "refuse"
        console.print(f"retrain gate: {verdict}: " + "; ".join(gate["reasons"]), highlight=False)


@models_app.command("promote")
@fail_on_errors
def models_promote(
    model_id: Annotated[str, typer.Argument(help="The model id to make champion.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the history).")] = "manual promotion",
    models: ModelsOpt = None,
) -> None:
    """Make a model the champion (atomic pointer swap; the history records it)."""
    from tierroute.classifier.registry import ModelRegistry

    change = ModelRegistry(_models_dir(models)).promote(model_id, reason)
    if change is None:
        console.print(f"{model_id} is already the champion")
    else:
        console.print(f"champion is now [bold]{model_id}[/] (was {change.previous or 'none'})")


@models_app.command("rollback")
@fail_on_errors
def models_rollback(models: ModelsOpt = None) -> None:
    """Return the champion pointer to the previous champion."""
    from tierroute.classifier.registry import ModelRegistry

    change = ModelRegistry(_models_dir(models)).rollback()
    console.print(
        f"rolled back: champion is now [bold]{change.champion}[/] (was {change.previous})"
    )


# ---------------------------------------------------------------------------- simulate


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
    _print_wide(table)
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
            _pct(p.under_routing_rate),
            _pct(p.over_routing_rate),
            _pct(p.accuracy),
            _pct(p.fallback_rate),
        )
    _print_wide(table)
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
    engine = _open_log(db, config)
    try:
        replay_input = replay_rows(logged_rows(engine, _start(since), include_bare_labels=False))
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


# ---------------------------------------------------------------------------- report


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
            f"{_pct(side.summary.error_rate)}, fallback rate {_pct(side.summary.fallback_rate)}"
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
    engine = _open_engine(db if db is not None else gateway.log.url)
    try:
        built = build_report(engine, since, utcnow(), pricing, _models_dir(models), baseline)
    finally:
        engine.dispose()
    _print_report(built, write_report(built, out))
