"""The ``tierroute`` command line: thin commands that parse, call one library function, print."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from tierroute.cli_support import console, fail_on_errors

app = typer.Typer(
    help="Route each LLM query to the cheapest model tier that answers it well.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Labeled data: import public datasets, validate files.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
@fail_on_errors
def serve(
    config: Annotated[
        Optional[Path], typer.Option(help="Gateway TOML config (default: built-in config).")
    ] = None,
    model: Annotated[
        Optional[Path], typer.Option(help="Model directory or models root (default: champion).")
    ] = None,
    host: Annotated[Optional[str], typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default 8000).")] = None,
) -> None:
    """Serve the classifier and the OpenAI-compatible gateway (uvicorn)."""
    from tierroute.service.server import run

    run(config, model, host, port)


def main() -> None:
    """Console-script entry point."""
    app()
