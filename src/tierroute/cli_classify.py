"""``tierroute classify``: route one query, or a file of queries, to a tier."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tierroute.cli_classifier_options import ModelOpt
from tierroute.cli_options import output_file
from tierroute.cli_support import console, fail_on_errors, progress_bar
from tierroute.output_files import overwritten_input


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
