"""Per-model circuit breaker: closed -> open after N consecutive failures -> half-open probe.

Open is always temporary: after the cooldown one probe request is let through (half-open); its
success closes the circuit, its failure opens it for another cooldown. No model is disabled
forever (the original write-up's router marked a model dead after one 429).
"""

from __future__ import annotations

from collections.abc import Callable

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    """State machine for one model; ``now`` is a monotonic clock reading in seconds."""

    __slots__ = ("_clock", "_cooldown", "_failures", "_open_until", "_probing", "_threshold")

    def __init__(self, failure_threshold: int, cooldown: float, clock: Callable[[], float]) -> None:
        self._threshold = failure_threshold
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None  # None: closed
        self._probing = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (cooldown over, a probe may go or is out)."""
        if self._open_until is None:
            return CLOSED
        return HALF_OPEN if self._clock() >= self._open_until else OPEN

    def allow(self) -> bool:
        """May a request go now? In half-open, only one probe at a time."""
        if self._open_until is None:
            return True
        if self._probing or self._clock() < self._open_until:
            return False
        self._probing = True
        return True

    def retry_in(self) -> float:
        """Seconds until a request may go again (a probe out: about one second)."""
        if self._open_until is None:
            return 0.0
        wait = self._open_until - self._clock()
        return wait if wait > 0 else 1.0

    def record_success(self) -> None:
        """The model answered: close the circuit."""
        self._failures = 0
        self._open_until = None
        self._probing = False

    def record_failure(self) -> None:
        """The model failed (5xx, 429, timeout, connection, malformed answer, key or credit)."""
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self._open(self._cooldown)

    def release(self) -> None:
        """The request ended without telling anything about the model's health."""
        self._probing = False

    def hold_open(self, seconds: float) -> None:
        """Keep the model out for ``seconds`` (a long Retry-After), then probe it again."""
        self._open(seconds)

    def _open(self, seconds: float) -> None:
        until = self._clock() + seconds
        if self._open_until is None or until > self._open_until or self._probing:
            self._open_until = until
        self._probing = False
