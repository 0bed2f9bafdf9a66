"""``tierroute train``: a model from labeled files, evaluated against the keyword heuristic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tierroute.cli_classifier_options import DataOpt, PublicLimitOpt, PublicOpt, SkipOpt
from tierroute.cli_options import (
    ABOVE_ZERO_FRACTION,
    FRACTION,
    NON_NEGATIVE,
    OPEN_FRACTION,
    output_dir,
)
from tierroute.cli_support import (
    console,
    fail_on_errors,
    load_rows,
    metrics_table,
    pooled_rows,
    progress_steps,
)
from tierroute.data.pool import DEFAULT_PUBLIC_LIMIT
from tierroute.data.schema import LabeledRow
from tierroute.tiers import COMPLEX_REASONING


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
            help="Pick the least-cost threshold among those keeping out-of-group "
            "under-routing (fallbacks included) within this share; 0: least cost alone.",
            callback=FRACTION,
        ),
    ] = 0.03,
    max_source_under_routing: Annotated[
        float,
        typer.Option(
            help="... and within this share in every held-out source of 30+ rows; "
            "0: no per-source bound.",
            callback=FRACTION,
        ),
    ] = 0.04,
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
        max_source_under_routing=max_source_under_routing if max_source_under_routing > 0 else None,
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
