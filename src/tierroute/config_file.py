"""Which gateway configuration a command uses, found the same way by every command.

``--config FILE``, else the file named by ``TIERROUTE_CONFIG``, else ``./tierroute.toml`` in the
working directory, else the built-in default (package data). Environment overrides of single
keys (``TIERROUTE_LOG__URL`` ...) still apply on top of whichever file is chosen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CONFIG_ENV = "TIERROUTE_CONFIG"
LOCAL_CONFIG = Path("tierroute.toml")


@dataclass(frozen=True)
class ConfigChoice:
    """The chosen file (None: the built-in default) and why it was chosen."""

    path: Path | None
    origin: str

    def describe(self) -> str:
        """One line for the user: which configuration, and where that choice came from."""
        if self.path is None:
            return f"config: built-in default ({self.origin})"
        return f"config: {self.path} ({self.origin})"


def find_config(
    explicit: Path | None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ConfigChoice:
    """``explicit``, else ``$TIERROUTE_CONFIG``, else ``./tierroute.toml``, else built-in."""
    if explicit is not None:
        return ConfigChoice(explicit, "--config")
    env = os.environ if environ is None else environ
    named = env.get(CONFIG_ENV, "").strip()
    if named:
        return ConfigChoice(Path(named), CONFIG_ENV)
    local = (cwd or Path.cwd()) / LOCAL_CONFIG
    if local.is_file():
        return ConfigChoice(LOCAL_CONFIG if cwd is None else local, f"./{LOCAL_CONFIG}")
    return ConfigChoice(None, f"no --config, {CONFIG_ENV} or ./{LOCAL_CONFIG}")
