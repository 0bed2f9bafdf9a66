"""``tierroute retrain``: a candidate from base data and labeled logs, gated against the champion."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from tierroute.cli_loop_options import (
    BaseOpt,
    ConfigOpt,
    DbOpt,
    ModelsOpt,
    SinceOpt,
    models_dir,
    open_log,
    print_wide,
    since_start,
)
from tierroute.cli_options import (
    AT_LEAST_ONE,
    AT_LEAST_TWO,
    FRACTION,
    POSITIVE,
    SHARE_BELOW_ONE,
)
from tierroute.cli_support import (
    console,
    fail_on_errors,
    load_rows,
    metrics_table,
    progress_steps,
)

if TYPE_CHECKING:
    from tierroute.retraining.retrain import RetrainResult


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
    start = since_start(since) if from_logs else None
    logged = []
    if start is not None:
        engine = open_log(db, config)
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
            models_dir(models),
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
    print_wide(metrics_table(frozen_title, result.frozen))
    if result.newest:
        newest_title = f"newest labeled logs ({len(result.holdout)} rows, not trained on)"
        print_wide(metrics_table(newest_title, result.newest))
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
