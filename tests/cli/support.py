"""Helpers of the command-line tests: run in-process, assert no traceback, small configs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from typer.testing import CliRunner

from tierroute.cli import app
from tierroute.config import default_config_text

runner = CliRunner()


def run(args: Sequence[object], code: int = 0, env: dict[str, str] | None = None) -> str:
    """Output (stdout + stderr) of ``tierroute ARGS``; asserts the exit code and no traceback."""
    # Wide enough that click's usage-error box does not wrap a message across lines.
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "400", **(env or {})})
    output = result.output
    assert "Traceback" not in output, output
    assert result.exit_code == code, (result.exit_code, output, result.exception)
    if code != 0:
        # Our errors end the process through typer.Exit / a usage error, never an exception.
        assert result.exception is None or isinstance(result.exception, SystemExit), output
    return output


def write_config(
    path: Path,
    *,
    log_url: str | None = None,
    drop_tier: str | None = None,
    challenger: str | None = None,
) -> Path:
    """The built-in config with another request-log URL, one tier left out, a challenger."""
    text = default_config_text()
    if challenger is not None:
        text = text.replace("\n[rollout]\n", f'\n[rollout]\nchallenger = "{challenger}"\n', 1)
        assert challenger in text
    if log_url is not None:
        text = text.replace('url = "sqlite:///tierroute.db"', f'url = "{log_url}"')
        assert log_url in text
    if drop_tier is not None:
        head, rest = text.split(f"[tiers.{drop_tier}]", 1)
        text = head + rest[rest.index("\n[", 1) :]
    path.write_text(text, encoding="utf-8")
    return path
