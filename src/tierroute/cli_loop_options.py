"""Options and helpers the learning-loop commands share: the log database, the models root,
the look-back period, wide tables.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from tierroute.cli_support import console, gateway_config
from tierroute.exceptions import DataError

if TYPE_CHECKING:
    from sqlalchemy import Engine

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Request-log database URL (default: the gateway config's log.url)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Gateway TOML (default: $TIERROUTE_CONFIG, else ./tierroute.toml, else built-in).",
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


def models_dir(models: Path | None) -> Path:
    """--models, else the configured models root."""
    from tierroute.config import get_settings

    return models if models is not None else get_settings().models_dir


def open_log(db: str | None, config: Path | None) -> Engine:
    """The request log named by --db, else by the configuration's log.url (found, announced)."""
    return open_engine_of(db if db is not None else gateway_config(config).log.url)


def open_engine_of(url: str) -> Engine:
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


def since_start(since: str) -> datetime:
    """The start of the look-back period ``since`` that ends now (naive UTC)."""
    from tierroute.period import since as period_start
    from tierroute.store import utcnow

    return period_start(since, utcnow())


def print_wide(table: Table) -> None:
    """Print a table whose figures are never cut."""
    # Figures must never be cut to "…": cells fold in a narrow terminal, and output that goes to
    # a pipe or file (80 columns by default) is laid out 120 wide.
    for column in table.columns:
        column.overflow = "fold"
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=max(console.width, 120)).print(table)


def pct(value: float | None) -> str:
    """A fraction as a percentage with one decimal; empty for None."""
    return "" if value is None else f"{100 * value:.1f} %"
