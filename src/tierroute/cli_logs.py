"""``tierroute logs export|label``: the request log out as JSONL, corrected labels in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tierroute.cli_loop_options import (
    ConfigOpt,
    DbOpt,
    ModelsOpt,
    SinceOpt,
    models_dir,
    open_log,
    since_start,
)
from tierroute.cli_options import (
    output_file,
)
from tierroute.cli_support import (
    console,
    err_console,
    fail_on_errors,
)

logs_app = typer.Typer(
    help="The request log: export it, import corrected labels.", no_args_is_help=True
)


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

    engine = open_log(db, config)
    try:
        summary = export_logs(engine, since_start(since), out, labeled_only=labeled_only)
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

    registry = ModelRegistry(models_dir(models))
    current = registry.champion_id()
    tiers = read_card(registry.champion_dir()).tiers if current else list(DEFAULT_TIERS)
    engine = open_log(db, config)
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
