"""What every CLI command shares: the console, errors as exit codes, progress, the config."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tierroute.config_file import find_config
from tierroute.data.io import LoadResult, read_labeled
from tierroute.data.pool import Pool, load_public, merge_pool
from tierroute.data.schema import LabeledRow
from tierroute.exceptions import (
    DataError,
    TierrouteError,
)
from tierroute.exit_codes import ExitCode, exit_code_for

if TYPE_CHECKING:
    from tierroute.config import GatewayConfig

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def fail_on_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print our errors plainly (what, where) and exit non-zero instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TierrouteError as exc:
            _print_error(str(exc))
            raise typer.Exit(exit_code_for(exc)) from exc
        except OSError as exc:
            # A file we could not read or write: say which and why, not a traceback.
            where = f"{exc.filename}: " if exc.filename else ""
            _print_error(f"{where}{exc.strerror or exc}")
            raise typer.Exit(ExitCode.FAILURE) from exc

    return wrapper


def _print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def gateway_config_path(explicit: Path | None) -> Path | None:
    """The config file a command uses (None: built-in), announced on stderr in one line."""
    choice = find_config(explicit)
    err_console.print(escape(choice.describe()), highlight=False, soft_wrap=True)
    return choice.path


def gateway_config(explicit: Path | None) -> GatewayConfig:
    """The gateway configuration found as every command finds it (see ``config_file``)."""
    from tierroute.config import load_gateway_config

    return load_gateway_config(gateway_config_path(explicit))


def _progress(target: Console) -> Progress:
    # Shown only on a terminal: piped output and logs get the summary lines, not redraws.
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=target,
        transient=True,
        disable=not target.is_terminal,
    )


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr when it is a terminal; ``advance(n)`` counts work done."""
    with _progress(err_console) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            progress.advance(task, n)

        yield advance


@contextmanager
def progress_steps(
    title: str, total: int, console: Console | None = None
) -> Iterator[Callable[[str], None]]:
    """A bar for work reported as named steps: ``on_step(name)`` is called as each step starts.

    The bar reads ``title: <current step>`` and counts the steps already finished.
    """
    with _progress(console or err_console) as progress:
        task = progress.add_task(title, total=total)
        started = False

        def on_step(name: str) -> None:
            nonlocal started
            progress.update(task, description=f"{title}: {name}", advance=1 if started else 0)
            started = True

        yield on_step


def load_rows(paths: list[Path], skip_invalid: bool) -> LoadResult:
    """Read labeled files, printing each skipped row and the merged-duplicate count."""
    result = read_labeled(paths, skip_invalid=skip_invalid)
    for issue in result.issues:
        err_console.print(
            f"[yellow]skipped[/] {escape(str(issue))}", highlight=False, soft_wrap=True
        )
    if result.duplicates:
        console.print(f"merged {result.duplicates} duplicate row(s) (same text, same tier)")
    if not result.rows:
        files = ", ".join(str(p) for p in result.files)
        raise DataError(f"{files}: no valid labeled rows")
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
