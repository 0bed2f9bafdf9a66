"""Look-back periods written the way people say them: ``30d``, ``12h``, ``2w``, ``90m``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from tierroute.exceptions import DataError

_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_period(text: str) -> timedelta:
    """``"7d"`` -> 7 days; minutes, hours, days or weeks; raises DataError naming the value."""
    match = _PERIOD.match(text.lower())
    if match is None:
        raise DataError(
            f"--since: {text!r} is not a period; write a number and a unit: 90m, 12h, 7d, 2w"
        )
    amount = float(match.group(1))
    if amount <= 0:
        raise DataError(f"--since: {text!r} must be longer than zero")
    return timedelta(**{_UNIT[match.group(2)]: amount})


def since(text: str, now: datetime) -> datetime:
    """The start of the period ``text`` that ends at ``now``."""
    return now - parse_period(text)
