"""Capped exponential backoff with full jitter, and Retry-After parsing.

Full jitter (a uniform draw between 0 and the capped exponential) spreads the retries of many
clients that failed together, so they do not hit a recovering provider at the same instant. A
provider's Retry-After is honoured with a little jitter on top (up to 10 %, for the same
reason), and is always capped: ``inf``, ``1e400`` or a date years ahead must not put a model
to sleep forever.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


class Backoff:
    """Delays before the n-th retry: ``uniform(0, min(cap, base * 2**n))``, or Retry-After."""

    __slots__ = ("_base", "_cap", "_rng")

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self._base = base
        self._cap = cap
        self._rng = rng if rng is not None else random.Random()

    def ceiling(self, retry: int) -> float:
        """The largest delay the ``retry``-th retry (0-based) can draw."""
        # min() before the power would overflow for absurd retry counts; cap the exponent.
        return min(self._cap, self._base * 2.0 ** min(retry, 62))

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before the ``retry``-th retry; a provider's Retry-After wins."""
        if retry_after is not None:
            return self.jittered(retry_after)
        return self._rng.uniform(0.0, self.ceiling(retry))

    def jittered(self, seconds: float) -> float:
        """``seconds`` plus up to 10 % (callers that were told the same wait spread out)."""
        return seconds * (1.0 + 0.1 * self._rng.random())


def retry_after_from(headers: Mapping[str, str], cap: float) -> float | None:
    """The provider's wait in seconds, capped: ``retry-after-ms`` first, then ``Retry-After``."""
    seconds: float | None = None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = float("nan")
        if value == value:  # not NaN
            seconds = max(0.0, value)
    if seconds is None:
        seconds = parse_retry_after(headers.get("Retry-After"))
    return None if seconds is None else min(seconds, cap)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent or bad.

    Not capped here (``inf`` stays infinite): ``retry_after_from`` caps it.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        try:
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
        except OverflowError:
            return float("inf")
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
