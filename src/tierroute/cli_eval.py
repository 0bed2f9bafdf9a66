"""``tierroute eval``: the model and the keyword heuristic scored side by side on labeled data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierroute.cli_classifier_options import (
    DataOpt,
    ModelOpt,
    PublicLimitOpt,
    PublicOpt,
    SkipOpt,
)
from tierroute.cli_options import output_dir
from tierroute.cli_support import (
    console,
    fail_on_errors,
    gateway_config,
    load_rows,
    loso_table,
    metrics_table,
    pooled_rows,
    progress_bar,
    progress_steps,
)
from tierroute.data.pool import DEFAULT_PUBLIC_LIMIT


@fail_on_errors
def eval_command(
    data: DataOpt,
    model: ModelOpt = None,
    out: Annotated[
        Path,
        typer.Option(help="Directory for report.json, report.md and plots.", callback=output_dir),
    ] = Path("reports/eval"),
    by_source: Annotated[
        bool,
        typer.Option(
            "--by-source",
            help="Also train without each source of --data (+ --train-data) and score on it.",
        ),
    ] = False,
    train_data: Annotated[
        list[Path],
        typer.Option(help="Extra labeled data pooled with --data for --by-source (repeatable)."),
    ] = [],  # noqa: B006
    public: PublicOpt = [],  # noqa: B006
    public_limit: PublicLimitOpt = DEFAULT_PUBLIC_LIMIT,
    skip_invalid: SkipOpt = False,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Gateway TOML whose tier models and prices cost the routing "
            "(default: the write-up's flat price table)."
        ),
    ] = None,
) -> None:
    """Score the model and the keyword heuristic side by side on labeled data."""
    from tierroute import load_model
    from tierroute.classifier.report import leave_one_source_out, write_report
    from tierroute.classifier.train import TrainOptions
    from tierroute.data.schema import normalize_text
    from tierroute.reporting.costs import tier_costs_from_config
    from tierroute.tier_costs import WRITEUP_TIER_COSTS

    costs = tier_costs_from_config(gateway_config(config)) if config else WRITEUP_TIER_COSTS
    price_table = f"the prices of {config}" if config else "the write-up's flat price table"
    tier_model = load_model(model)
    loaded = load_rows(data, skip_invalid)
    loso = None
    if by_source:
        pool = list(loaded.rows)
        if train_data:
            seen = {normalize_text(r.text) for r in pool}
            pool += [
                r
                for r in load_rows(train_data, skip_invalid).rows
                if normalize_text(r.text) not in seen
            ]
        if public:
            pool = pooled_rows(pool, public, public_limit).rows
        sources = {r.source for r in pool}
        # The champion's selected candidate, so each of the runs is one candidate's fits.
        params = tier_model.card.hyperparameters.get("best_params", {})
        options = TrainOptions(
            c_grid=(float(params.get("C", TrainOptions.c_grid[1])),),
            char_grid=(bool(params.get("use_char", True)),),
            cv_folds=4,
            default_tier=tier_model.default_tier,
        )
        with progress_steps("leave-one-source-out", len(sources)) as on_step:
            loso = leave_one_source_out(pool, options, step=on_step)
    with progress_bar("evaluating", None):
        report = write_report(
            tier_model,
            loaded.rows,
            out,
            [str(p) for p in loaded.files],
            loso,
            costs=costs,
            price_table=price_table,
        )
    console.print(
        metrics_table(f"{report['n']} rows, model {tier_model.model_id}", report["routers"])
    )
    routed = report["routers"]["model"]
    console.print(
        f"threshold {routed['threshold']:.2f} ({report['threshold_rule']}): coverage "
        f"{routed['coverage']:.1%}, accepted accuracy {routed['accepted_accuracy']:.3f}, "
        f"under-routing {routed['under_routing_rate']:.1%} (before fallback: macro-F1 "
        f"{routed['decided']['macro_f1']:.3f}, under-routing "
        f"{routed['decided']['under_routing_rate']:.1%}); by language: "
        + ", ".join(
            f"{k} macro-F1 {v['macro_f1']:.3f} under-routing {v['under_routing_rate']:.1%}"
            for k, v in routed["by_lang"].items()
        )
    )
    if loso:
        console.print(loso_table(loso))
        summary = report["leave_one_source_out_summary"]
        console.print(
            f"weakest source {summary['weakest_source']} macro-F1 "
            f"{summary['weakest_macro_f1']:.3f}; most under-routed "
            f"{summary['most_under_routed_source']} {summary['max_under_routing_rate']:.1%}"
        )
    console.print(f"report: {out / 'report.md'}")
