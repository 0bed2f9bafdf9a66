"""Validated command-line values: ranges and output paths checked before a command runs.

Each checker is an option ``callback``: a bad value is a usage error (exit code 2) that names
the option and the allowed range, e.g. ``Invalid value for '--eval-fraction': 1.0 is not in
0 < x < 1``. Repeatable options are checked value by value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer

N = TypeVar("N")


@dataclass(frozen=True)
class Range:
    """An allowed interval; ``None`` bounds are open-ended."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.high is None and self.low is not None:
            return f"x {'>' if self.low_open else '>='} {self.low:g}"
        left = "" if self.low is None else f"{self.low:g} {'<' if self.low_open else '<='} "
        right = "" if self.high is None else f" {'<' if self.high_open else '<='} {self.high:g}"
        return f"{left}x{right}"

    def check(self, value: N) -> N:
        """``value`` (or each of a list) if in range; else typer.BadParameter."""
        values: list[Any] = value if isinstance(value, list) else [] if value is None else [value]
        for item in values:
            if item not in self:
                raise typer.BadParameter(f"{item:g} is not in {self}")
        return value


def in_range(allowed: Range) -> Callable[[N], N]:
    """An option callback accepting only values in ``allowed``."""
    return allowed.check


# A share that leaves something on both sides (held-out fraction).
OPEN_FRACTION = in_range(Range(0.0, 1.0, low_open=True, high_open=True))
# A share that may be nothing but not everything (log hold-out).
SHARE_BELOW_ONE = in_range(Range(0.0, 1.0, high_open=True))
# An accuracy target.
ABOVE_ZERO_FRACTION = in_range(Range(0.0, 1.0, low_open=True))
# A probability, confidence threshold or tolerance.
FRACTION = in_range(Range(0.0, 1.0))
POSITIVE = in_range(Range(0.0, low_open=True))
NON_NEGATIVE = in_range(Range(0.0))
AT_LEAST_ONE = in_range(Range(1))
AT_LEAST_TWO = in_range(Range(2))


def output_file(value: Path | None) -> Path | None:
    """Callback of a file-output option: refuse a directory."""
    if value is not None and value.is_dir():
        raise typer.BadParameter(f"{value} is a directory; give a file path")
    return value


def output_dir(value: Path | None) -> Path | None:
    """Callback of a folder-output option: refuse an existing file."""
    if value is not None and value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is a file; give a folder")
    return value
