"""The ``tierroute`` command line: thin commands that parse, call one library function, print.

Importing this module stays cheap (``tierroute --help`` answers at once): scikit-learn,
matplotlib, FastAPI and SQLAlchemy are imported inside the commands that use them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from tierroute import __version__
from tierroute.cli_loop_options import ConfigOpt
from tierroute.cli_options import (
    ABOVE_ZERO_FRACTION,
    NON_NEGATIVE,
    OPEN_FRACTION,
    output_dir,
    output_file,
)
from tierroute.cli_support import (
    console,
    fail_on_errors,
    gateway_config,
    gateway_config_path,
    load_rows,
    loso_table,
    metrics_table,
    pooled_rows,
    progress_bar,
    progress_steps,
)
from tierroute.data.pool import DEFAULT_PUBLIC_LIMIT
from tierroute.data.schema import LabeledRow
from tierroute.output_files import overwritten_input
from tierroute.tiers import COMPLEX_REASONING

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    help="Route each LLM query to the cheapest model tier that answers it well.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tierroute {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


DataOpt = Annotated[
    list[Path],
    typer.Option("--data", help="Labeled JSONL/CSV file or directory (repeatable)."),
]
PublicOpt = Annotated[
    list[Path],
    typer.Option(
        "--public",
        help="Public data pooled in, below the project's labels: a folder of dataset folders "
        "(../shared/datasets), one dataset folder, or `tierroute data import` outputs (repeatable).",
    ),
]
PublicLimitOpt = Annotated[
    int,
    typer.Option(help="Rows per tier kept of each public dataset folder (deterministic sample)."),
]
SkipOpt = Annotated[
    bool,
    typer.Option("--skip-invalid", help="Leave out bad rows (still reported) instead of failing."),
]
ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", help="Model directory or models root (default: champion)."),
]


@app.command()
@fail_on_errors
def train(
    data: DataOpt = [Path("data/raw")],  # noqa: B006  (typer needs a literal default)
    out: Annotated[
        Path | None,
        typer.Option(
            help="Models root to write models/<id>/ into (default: $TIERROUTE_MODELS_DIR or "
            "models).",
            callback=output_dir,
        ),
    ] = None,
    target_accuracy: Annotated[
        float | None,
        typer.Option(
            help="Pick the lowest threshold whose accepted decisions are this accurate out of "
            "group, 0<x<=1 (overrides --max-under-routing).",
            callback=ABOVE_ZERO_FRACTION,
        ),
    ] = None,
    max_under_routing: Annotated[
        float,
        typer.Option(
            help="Pick the lowest threshold keeping out-of-group under-routing (fallbacks "
            "included) within this share; 0: where routing cost is least instead."
        ),
    ] = 0.03,
    default_tier: Annotated[
        str,
        typer.Option(help="Tier used when confidence is too low (one that serves every query)."),
    ] = COMPLEX_REASONING,
    under_weight: Annotated[
        float | None,
        typer.Option(
            help="Cost of under-routing relative to over-routing, >= 0 (0: plain argmax; "
            "default 2).",
            callback=NON_NEGATIVE,
        ),
    ] = None,
    eval_fraction: Annotated[
        float,
        typer.Option(help="Share of each tier/language held out, 0<x<1.", callback=OPEN_FRACTION),
    ] = 0.15,
    public: PublicOpt = [],  # noqa: B006
    public_limit: PublicLimitOpt = DEFAULT_PUBLIC_LIMIT,
    skip_invalid: SkipOpt = False,
    promote: Annotated[bool, typer.Option(help="Make the new model the champion.")] = True,
) -> None:
    """Train a model from labeled files; evaluate it against the keyword heuristic; save it.

    By default only the project's own data (data/raw): public sets are not shipped with the
    repository, one is non-commercial, and all must stay unseen for the public evaluation.
    --public adds them below the project's labels (conflicts reported).
    """
    from tierroute.classifier.train import TrainOptions, train_model
    from tierroute.config import get_settings

    loaded = load_rows(data, skip_invalid)
    rows: list[LabeledRow] = loaded.rows
    extra_card: dict[str, Any] = {
        "public_pool": {
            "used": False,
            "why": "public sets are not shipped with the repository, code_alpaca is CC BY-NC, "
            "and each must stay never trained on for the public evaluation; --public adds them",
        }
    }
    if public:
        pool = pooled_rows(loaded.rows, public, public_limit)
        rows = pool.rows
        extra_card = {
            "public_pool": {
                "used": True,
                "paths": [str(p) for p in public],
                "limit_per_tier": public_limit,
                "rows": pool.public_rows,
                "duplicates_merged": pool.duplicates,
                "conflicts": len(pool.conflicts),
                "conflicts_by_source": pool.conflict_counts(),
                "precedence": "project labels win over public; a text two public sets "
                "label differently is left out",
            }
        }
    options = TrainOptions(
        eval_fraction=eval_fraction,
        target_accuracy=target_accuracy,
        max_under_routing=max_under_routing if max_under_routing > 0 else None,
        default_tier=default_tier,
        under_routing_weight=(
            TrainOptions.under_routing_weight if under_weight is None else under_weight
        ),
    )
    steps = ["cross-validation", "calibration", "final fit", "threshold", "evaluate", "save"]
    with progress_steps("training", len(steps)) as on_step:
        result = train_model(
            rows,
            out if out is not None else get_settings().models_dir,
            options,
            data_files=[str(p) for p in loaded.files],
            promote=promote,
            step=on_step,
            extra_card=extra_card,
        )
    card = result.card
    console.print(
        f"trained [bold]{card.model_id}[/] on {result.train_rows} rows "
        f"({', '.join(f'{k} {v}' for k, v in card.training_data['counts']['tier'].items())}); "
        f"held out {result.eval_rows}"
    )
    console.print(
        metrics_table(
            "held-out split", {"model": result.model_metrics, "heuristic": result.heuristic_metrics}
        )
    )
    target = card.threshold_target
    hyper = card.hyperparameters
    console.print(
        f"selected {hyper['best_params']} by {hyper['selection']}; temperature beta "
        f"{hyper['temperature_beta']:.3f}, unseen-feature gamma {hyper['oov_gamma']:.3f}"
    )
    console.print(
        f"threshold {card.threshold:.2f} ({target.get('rule', '')}), default tier "
        f"{card.default_tier}; out of group: coverage {target.get('coverage', 0):.1%}, accepted "
        f"accuracy {target.get('accepted_accuracy', 0):.3f}, under-routing "
        f"{target.get('under_routing', 0):.1%}; by language: "
        + ", ".join(f"{k} {v['macro_f1']:.3f}" for k, v in result.model_metrics["by_lang"].items())
    )
    console.print(f"saved {result.model_dir}" + (" (champion)" if result.promoted else ""))


@app.command("eval")
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


@app.command()
@fail_on_errors
def classify(
    text: Annotated[str | None, typer.Argument(help="One query to classify.")] = None,
    input: Annotated[
        Path | None, typer.Option("--input", help="JSONL (or CSV) rows with a `text` field.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Where to write JSONL (not the input); an input row's own `tier` is kept as "
            "`label`.",
            callback=output_file,
        ),
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Use a baseline instead of the model: `heuristic`.")
    ] = None,
    model: ModelOpt = None,
) -> None:
    """Route one query, or a file of queries, to a tier."""
    import json

    from tierroute import load_model
    from tierroute.classifier.baseline import HeuristicRouter
    from tierroute.data.io import read_texts, write_jsonl

    if (text is None) == (input is None):
        raise typer.BadParameter("give either a TEXT argument or --input FILE")
    if input is not None and output is not None and overwritten_input(output, [input]):
        raise typer.BadParameter(
            f"--output {output} is the input file; write to another file", param_hint="--output"
        )
    if baseline not in (None, "heuristic"):
        raise typer.BadParameter(f"unknown baseline {baseline!r}; known: heuristic")
    router = HeuristicRouter() if baseline == "heuristic" else load_model(model)
    if text is not None:
        console.print_json(json.dumps(router.predict(text).to_dict()))
        return
    assert input is not None
    rows = read_texts(input)
    decisions = []
    with progress_bar("classifying", len(rows)) as advance:
        for start in range(0, len(rows), 512):
            chunk = rows[start : start + 512]
            decisions.extend(router.predict_batch([r["text"] for r in chunk]))
            advance(len(chunk))
    enriched = (
        {**_keep_label(row), **decision.to_dict()}
        for row, decision in zip(rows, decisions, strict=True)
    )
    if output is None:
        for row in enriched:
            typer.echo(json.dumps(row, ensure_ascii=False))
    else:
        count = write_jsonl(enriched, output)
        console.print(f"wrote {count} rows to {output}")


def _keep_label(row: dict[str, Any]) -> dict[str, Any]:
    """The input row with its own ``tier`` moved to ``label`` (``input_tier`` if taken)."""
    # The prediction goes in `tier`, as documented; a gold label there must not be overwritten.
    if "tier" not in row:
        return row
    kept = {k: v for k, v in row.items() if k != "tier"}
    kept["label" if "label" not in row else "input_tier"] = row["tier"]
    return kept


@app.command()
@fail_on_errors
def serve(
    config: ConfigOpt = None,
    model: ModelOpt = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    allow_open: Annotated[
        bool,
        typer.Option(
            "--allow-open",
            help="Serve without TIERROUTE_API_KEYS on a non-loopback address (e.g. behind an "
            "authenticating proxy); refused otherwise.",
        ),
    ] = False,
) -> None:
    """Serve the classifier and the OpenAI-compatible gateway (uvicorn)."""
    from tierroute.service.server import run

    run(gateway_config_path(config), model, host, port, allow_open=allow_open)


def main() -> None:
    """Console-script entry point."""
    app()


# The data and learning-loop commands live in one module per command group; registered here.
from tierroute.cli_data import data_app  # noqa: E402
from tierroute.cli_logs import logs_app  # noqa: E402
from tierroute.cli_models import models_app  # noqa: E402
from tierroute.cli_report import report  # noqa: E402
from tierroute.cli_retrain import retrain  # noqa: E402
from tierroute.cli_simulate import simulate  # noqa: E402

app.add_typer(data_app, name="data")
app.add_typer(logs_app, name="logs")
app.add_typer(models_app, name="models")
app.command()(retrain)
app.command()(simulate)
app.command()(report)
