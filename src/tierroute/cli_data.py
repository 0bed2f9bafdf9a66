"""``tierroute data``: import public sets, validate labeled files, check overlap, build the
public evaluation set."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tierroute.cli_options import (
    AT_LEAST_ONE,
    output_file,
)
from tierroute.cli_support import (
    console,
    fail_on_errors,
    load_rows,
    progress_bar,
)
from tierroute.exit_codes import ExitCode

data_app = typer.Typer(
    help="Labeled data: import public datasets, validate files, check overlap, build the public "
    "evaluation set.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@data_app.command("import")
@fail_on_errors
def data_import(
    name: Annotated[
        str, typer.Argument(help="clinc150 | gsm8k | gpteacher | code_alpaca | dolly_open_qa")
    ],
    path: Annotated[
        Path, typer.Argument(help="The dataset's folder (e.g. ../shared/datasets/gsm8k).")
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="JSONL file to write (appends are not done: one file per import).",
            callback=output_file,
        ),
    ],
    limit: Annotated[
        int | None,
        typer.Option(
            help="Keep at most N rows per tier, N >= 1 (deterministic sample).",
            callback=AT_LEAST_ONE,
        ),
    ] = None,
) -> None:
    """Import a public labeled dataset, mapping its rows to tiers by the labeling policy."""
    from collections import Counter

    from tierroute.data.importers import import_dataset
    from tierroute.data.io import write_jsonl

    with progress_bar(f"importing {name}", None):
        result = import_dataset(name, path, limit)
    count = write_jsonl((r.to_json() for r in result.rows), out)
    tiers = Counter(r.tier for r in result.rows)
    console.print(
        f"wrote {count} rows to {out}: " + ", ".join(f"{k} {v}" for k, v in sorted(tiers.items()))
    )
    for reason, skipped in sorted(result.skipped.items()):
        console.print(f"  left out {skipped}: {reason}")


@data_app.command("validate")
@fail_on_errors
def data_validate(
    data: Annotated[list[Path], typer.Argument(help="Files or directories.")],
) -> None:
    """Check labeled files; print every bad row (file:line: field: problem)."""
    from collections import Counter

    loaded = load_rows(data, skip_invalid=False)
    counts = Counter((r.tier, r.lang) for r in loaded.rows)
    table = Table(title=f"{len(loaded.rows)} valid rows in {len(loaded.files)} file(s)")
    table.add_column("tier")
    langs = sorted({lang for _, lang in counts})
    for lang in langs:
        table.add_column(lang, justify="right")
    for tier in sorted({t for t, _ in counts}):
        table.add_row(tier, *[str(counts[(tier, lang)]) for lang in langs])
    console.print(table)


@data_app.command("check-overlap")
@fail_on_errors
def data_check_overlap(
    train: Annotated[
        list[Path], typer.Option("--train", help="Training file or directory (repeatable).")
    ],
    eval_paths: Annotated[
        list[Path],
        typer.Option("--eval", help="Evaluation file or directory (repeatable)."),
    ] = [],  # noqa: B006
    public: Annotated[
        Path | None,
        typer.Option(
            "--public",
            help="Public datasets folder (e.g. ../shared/datasets): its items count as "
            "evaluation texts too; no snippet of them is printed.",
        ),
    ] = None,
) -> None:
    """Find evaluation texts that are near-copies of training texts.

    Prints `evalfile:line ~ trainfile:line  reason  snippet` per near-copy and exits with code 6
    when any is found (0 when none).
    """
    from tierroute.data.overlap import find_near_copies
    from tierroute.data.overlap_sources import project_refs, public_refs

    if not eval_paths and public is None:
        raise typer.BadParameter("give --eval PATH and/or --public DATASETS_DIR")
    train_refs = project_refs(train)
    eval_refs = project_refs(eval_paths) if eval_paths else []
    public_count = 0
    if public is not None:
        if not public.is_dir():
            raise typer.BadParameter(f"{public}: not a directory", param_hint="--public")
        extra = public_refs(public)
        public_count = len(extra)
        eval_refs += extra
    with progress_bar("checking overlap", len(eval_refs)) as advance:
        found = find_near_copies(train_refs, eval_refs, step=advance)
    project_files = {r.file for r in train_refs} | {
        r.file for r in eval_refs[: len(eval_refs) - public_count]
    }
    for copy in found:
        shown = copy.eval if copy.eval.file in project_files else copy.train
        snippet = " ".join(shown.text.split())[:80]
        typer.echo(
            f"{copy.eval.file}:{copy.eval.line} ~ {copy.train.file}:{copy.train.line}  "
            f"{copy.reason} {copy.score:.2f}  {snippet}"
        )
    by_reason = Counter(c.reason for c in found)
    console.print(
        f"{len(found)} near-cop{'y' if len(found) == 1 else 'ies'} "
        f"({len({(c.eval.file, c.eval.line) for c in found})} evaluation texts, "
        f"{len({(c.train.file, c.train.line) for c in found})} training texts) among "
        f"{len(eval_refs)} evaluation and {len(train_refs)} training texts"
        + (": " + ", ".join(f"{k} {v}" for k, v in sorted(by_reason.items())) if found else "")
    )
    if found:
        raise typer.Exit(ExitCode.NEAR_COPIES)


@data_app.command("public-eval")
@fail_on_errors
def data_public_eval(
    datasets_dir: Annotated[
        Path, typer.Argument(help="The public datasets folder (e.g. ../shared/datasets).")
    ],
    out: Annotated[
        Path, typer.Option(help="JSONL file to write (keep it under data/processed/).")
    ] = Path("data/processed/public_eval.jsonl"),
    per_source: Annotated[
        int | None, typer.Option(help="Keep at most N rows per public set (deterministic).")
    ] = None,
) -> None:
    """Build a labeled evaluation set only from public sets that the default model never saw."""
    from tierroute.data.io import write_jsonl
    from tierroute.data.public_eval import PUBLIC_EVAL_SETS, build_public_eval

    with progress_bar("building public evaluation set", len(PUBLIC_EVAL_SETS)) as advance:
        result = build_public_eval(datasets_dir, per_source, step=advance)
    count = write_jsonl((r.to_json() for r in result.rows), out)
    table = Table(title=f"wrote {count} rows to {out}")
    tiers = sorted({r.tier for r in result.rows})
    table.add_column("source")
    for tier in tiers:
        table.add_column(tier, justify="right")
    counts = Counter((r.source, r.tier) for r in result.rows)
    for source in sorted({r.source for r in result.rows}):
        table.add_row(source, *[str(counts[(source, t)]) for t in tiers])
    console.print(table)
    for reason, skipped in sorted(result.skipped.items()):
        console.print(f"  left out {skipped}: {reason}")
