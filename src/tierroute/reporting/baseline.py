"""Figures to hold the report against (``--compare-to``), e.g. the write-up's "before" month."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tierroute.config import validation_message
from tierroute.exceptions import ConfigError
from tierroute.text_input import read_utf8


class Baseline(BaseModel):
    """Figures to compare with (``--compare-to``), e.g. the write-up's "before" month."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = "baseline"
    monthly_cost_usd: float | None = Field(default=None, ge=0)
    p50_latency_ms: float | None = Field(default=None, ge=0)
    p99_latency_ms: float | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)  # a fraction: 0.023 is 2.3 %


def load_baseline(path: Path) -> Baseline:
    """A baseline from JSON or TOML; ConfigError names the file and the bad key."""
    try:
        text = read_utf8(path, ConfigError)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ConfigError(f"{path}: not valid {kind}: {exc}") from exc
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(str(path), exc)) from exc
