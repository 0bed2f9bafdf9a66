"""Capped exponential backoff with full jitter, and Retry-After parsing.

Full jitter (a uniform draw between 0 and the capped exponential) spreads the retries of many
clients that failed together, so they do not hit a recovering provider at the same instant.
"""

from __future__ import annotations

import random
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
            return retry_after
        return self._rng.uniform(0.0, self.ceiling(retry))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent or bad."""
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
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
