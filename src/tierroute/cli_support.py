"""What every CLI command shares: the console, error-to-exit-code mapping, progress bars."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tierroute.data.io import LoadResult, read_labeled
from tierroute.data.pool import Pool, load_public, merge_pool
from tierroute.data.schema import LabeledRow
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


def load_rows(paths: list[Path], skip_invalid: bool) -> LoadResult:
    """Read labeled files, printing each skipped row and the merged-duplicate count."""
    result = read_labeled(paths, skip_invalid=skip_invalid)
    for issue in result.issues:
        err_console.print(
            f"[yellow]skipped[/] {escape(str(issue))}", highlight=False, soft_wrap=True
        )
    if result.duplicates:
        console.print(f"merged {result.duplicates} duplicate row(s) (same text, same tier)")
    return result


def pooled_rows(project: list[LabeledRow], public: list[Path], limit: int) -> Pool:
    """Project rows plus public ones (project labels win); prints what was merged and settled."""
    pool = merge_pool(project, load_public(public, limit))
    console.print(
        f"public pool: {pool.public_rows} rows added from {', '.join(map(str, public))} "
        f"({pool.duplicates} duplicate(s) merged, {len(pool.conflicts)} conflict(s) settled)"
    )
    for pair, count in pool.conflict_counts().items():
        console.print(f"  conflicts {pair}: {count}")
    for conflict in pool.conflicts[:5]:
        kept = (
            f"kept {conflict.kept_tier} ({conflict.kept_source})"
            if conflict.kept_source
            else "left out"
        )
        console.print(
            f"  e.g. {escape(conflict.text[:70])!r}: {conflict.dropped_tier} "
            f"({conflict.dropped_source}) -> {kept}",
            highlight=False,
        )
    return pool


def metrics_table(title: str, routers: Mapping[str, Any]) -> Table:
    """Routers side by side: accuracy, macro-F1, routing rates, fallback, ECE, cost."""
    table = Table(title=title)
    columns = ("router", "acc", "macro-F1", "under", "over", "fallback", "acc kept", "ECE", "$/1k")
    for column in columns:
        if column == "router":
            table.add_column(column, no_wrap=True, min_width=9)  # "heuristic" in a narrow shell
        else:
            table.add_column(column, justify="right", overflow="fold")
    for name, m in routers.items():
        table.add_row(
            name,
            f"{m['accuracy']:.3f}",
            f"{m['macro_f1']:.3f}",
            f"{100 * m['under_routing_rate']:.1f} %",
            f"{100 * m['over_routing_rate']:.1f} %",
            f"{100 * m.get('fallback_rate', 0):.1f} %",
            f"{m['accepted_accuracy']:.3f}" if "accepted_accuracy" in m else "",
            f"{m['calibration']['ece']:.3f}" if "calibration" in m else "",
            f"{m['cost']['per_1000_routed_usd']:.3f}" if "cost" in m else "",
        )
    return table


def loso_table(loso: Mapping[str, Any]) -> Table:
    """Leave-one-source-out figures, one row per left-out source."""
    table = Table(
        title="leave one source out (one-tier source: macro-F1 = that tier's F1; see accuracy)"
    )
    columns = ("source", "n", "tiers", "acc", "macro-F1", "under", "coverage", "acc kept")
    for column in (*columns, "no-fallback F1", "no-fallback under"):
        table.add_column(column, overflow="fold")
    for source, r in loso.items():
        m = r["model"]
        table.add_row(
            source,
            str(r["n"]),
            str(len(r["tiers"])),
            f"{m['accuracy']:.3f}",
            f"{m['macro_f1']:.3f}",
            f"{100 * m['under_routing_rate']:.1f} %",
            f"{100 * m['coverage']:.1f} %",
            f"{m['accepted_accuracy']:.3f}",
            f"{m['decided_macro_f1']:.3f}",
            f"{100 * m['decided_under_routing_rate']:.1f} %",
        )
    return table
