"""What every CLI command shares: the console, error-to-exit-code mapping, progress bars."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tierroute.exceptions import (
    ConfigError,
    DataError,
    ModelError,
    TierrouteError,
    ValidationFailed,
)

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_CODES: dict[type[TierrouteError], int] = {
    ValidationFailed: 3,
    DataError: 3,
    ModelError: 4,
    ConfigError: 5,
}


def fail_on_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print our errors plainly (what, where) and exit non-zero instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TierrouteError as exc:
            code = next((c for t, c in EXIT_CODES.items() if isinstance(exc, t)), 1)
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(code) from exc

    return wrapper


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar when attached to a terminal; a silent counter otherwise."""
    if not sys.stderr.isatty():

        def ignore(_n: int = 1) -> None:
            return None

        yield ignore
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            progress.advance(task, n)

        yield advance
