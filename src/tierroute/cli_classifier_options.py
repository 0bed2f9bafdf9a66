"""Options the classifier commands share (train, eval, classify): labeled data, the public pool,
the model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
