"""The ``tierroute`` command line: the root app, ``serve``, and the commands registered from
one module each (``cli_train``, ``cli_eval``, ``cli_classify``, ``cli_data``, ...).

Importing this module stays cheap (``tierroute --help`` answers at once): scikit-learn,
matplotlib, FastAPI and SQLAlchemy are imported inside the commands that use them.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from tierroute import __version__
from tierroute.cli_classifier_options import ModelOpt
from tierroute.cli_classify import classify
from tierroute.cli_data import data_app
from tierroute.cli_eval import eval_command
from tierroute.cli_logs import logs_app
from tierroute.cli_loop_options import ConfigOpt
from tierroute.cli_models import models_app
from tierroute.cli_report import report
from tierroute.cli_retrain import retrain
from tierroute.cli_simulate import simulate
from tierroute.cli_support import fail_on_errors, gateway_config_path
from tierroute.cli_train import train

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    help="Route each LLM query to the cheapest model tier that answers it well.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tierroute {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# Registration order is the order `tierroute --help` lists them in.
app.command()(train)
app.command("eval")(eval_command)
app.command()(classify)


@app.command()
@fail_on_errors
def serve(
    config: ConfigOpt = None,
    model: ModelOpt = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    allow_open: Annotated[
        bool,
        typer.Option(
            "--allow-open",
            help="Serve without TIERROUTE_API_KEYS on a non-loopback address (e.g. behind an "
            "authenticating proxy); refused otherwise.",
        ),
    ] = False,
) -> None:
    """Serve the classifier and the OpenAI-compatible gateway (uvicorn)."""
    from tierroute.service.server import run

    run(gateway_config_path(config), model, host, port, allow_open=allow_open)


app.command()(retrain)
app.command()(simulate)
app.command()(report)
app.add_typer(data_app, name="data")
app.add_typer(logs_app, name="logs")
app.add_typer(models_app, name="models")


def main() -> None:
    """Console-script entry point."""
    app()
