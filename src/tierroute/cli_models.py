"""``tierroute models list|show|promote|rollback``: model versions through the registry."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from tierroute.cli_loop_options import (
    ModelsOpt,
    models_dir,
    pct,
    print_wide,
)
from tierroute.cli_support import (
    console,
    fail_on_errors,
)

models_app = typer.Typer(
    help="Model versions: list, show, promote, roll back the champion.", no_args_is_help=True
)


@models_app.command("list")
@fail_on_errors
def models_list(models: ModelsOpt = None) -> None:
    """Every model version, oldest first; the champion marked."""
    from tierroute.classifier.registry import ModelRegistry

    root = models_dir(models)
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
            pct(metrics.get("under_routing_rate")),
            f"{card.threshold:.2f}",
        )
    print_wide(table)
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

    root = models_dir(models)
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

    change = ModelRegistry(models_dir(models)).promote(model_id, reason)
    if change is None:
        console.print(f"{model_id} is already the champion")
    else:
        console.print(f"champion is now [bold]{model_id}[/] (was {change.previous or 'none'})")


@models_app.command("rollback")
@fail_on_errors
def models_rollback(models: ModelsOpt = None) -> None:
    """Return the champion pointer to the previous champion."""
    from tierroute.classifier.registry import ModelRegistry

    change = ModelRegistry(models_dir(models)).rollback()
    console.print(
        f"rolled back: champion is now [bold]{change.champion}[/] (was {change.previous})"
    )
