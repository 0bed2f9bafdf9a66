"""Canary roll-out of a challenger classifier: sticky assignment, a ramp, automatic rollback.

The policy is the ``[rollout]`` section itself (``config.RolloutConfig``): one set of fields,
validated once.

The original write-up's controller started at 10 % of traffic and added 15 % an hour up to
100 %, but drew every request at random (a user flipped between sides), had no rollback, and
kept its counts forever. Here:

- **Assignment** is a keyed blake2b hash of a stable key (the client's ``user``, else its API
  key, else the request id) mapped to [0, 1) and compared with the current weight: a user stays
  on one side, and since the weight only grows, a user once on the canary stays there. The hash
  key (salt) is the challenger's model id, so each new challenger samples its own users.
- **The ramp** is a pure function of elapsed time (``initial + increment x whole intervals``,
  capped at ``max_weight``), read from an injected clock, so it needs no timer and is tested
  without sleeping.
- **Rollback** sets the weight to 0 for good (until another challenger is loaded) when, over
  the sliding window, the canary's error rate or fallback rate exceeds the baseline's (the
  champion's side, same window) by more than its margin, once both sides have at least
  ``min_requests`` requests in the window.
- **Counters** are bounded: a ring of time buckets over the window, plus lifetime totals.
- **Shared state**: the start of the ramp and the rollback live in a ``CanaryRecord`` from the
  state backend (``tierroute.state``): with Redis every process and replica ramps from the same
  start (so the same share of keys goes to the canary everywhere), keeps it after a restart, and
  stops when any of them rolls back. Each process judges the rollback on its own requests (a
  sample of the traffic). The clock is wall time: starts are compared across machines.

Not thread-safe: the service calls it from its one event loop.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from tierroute.config import RolloutConfig
from tierroute.state.base import CanaryRecord

_POINT_SCALE = float(1 << 64)


def assignment_point(key: str, salt: bytes) -> float:
    """Where ``key`` falls in [0, 1): keyed blake2b, stable across processes and restarts."""
    digest = hashlib.blake2b(key.encode("utf-8"), key=salt, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _POINT_SCALE


def hash_salt(text: str) -> bytes:
    """A blake2b key (at most 64 bytes) derived from any text, e.g. a model id."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=32).digest()


WINDOW_BUCKETS = 60  # time slices of the sliding window (a minute each at the default hour)


def scheduled_weight(policy: RolloutConfig, elapsed_s: float) -> float:
    """The scheduled share of traffic ``elapsed_s`` seconds after the canary started."""
    steps = math.floor(max(elapsed_s, 0.0) / policy.interval_s)
    # Rounded so that 0.10 + 6 x 0.15 is 1.0, not 1.0000000000000002.
    return min(policy.max_weight, round(policy.initial_weight + steps * policy.increment, 9))


# Per bucket and in the running totals: one slot per (side, count).
_CANARY_REQ, _CANARY_ERR, _CANARY_FB, _BASE_REQ, _BASE_ERR, _BASE_FB = range(6)


class SlidingCounts:
    """Requests, errors and fallbacks of both sides over the last ``span_s`` seconds.

    A ring of ``buckets`` time slices with running totals: O(1) memory and O(1) amortized work
    per event; events older than the window drop out a slice at a time.
    """

    def __init__(self, span_s: float, buckets: int) -> None:
        self.width = span_s / buckets
        self.size = buckets
        self._slots = [[0] * 6 for _ in range(buckets)]
        self._totals = [0] * 6
        self._epoch: int | None = None

    def _advance(self, now: float) -> None:
        epoch = math.floor(now / self.width)
        if self._epoch is not None and epoch <= self._epoch:
            return
        first = epoch - self.size + 1 if self._epoch is None else self._epoch + 1
        for stale in range(max(first, epoch - self.size + 1), epoch + 1):
            slot = self._slots[stale % self.size]
            for i, value in enumerate(slot):
                self._totals[i] -= value
                slot[i] = 0
        self._epoch = epoch

    def add(self, now: float, canary: bool, error: bool, fallback: bool) -> None:
        """Count one finished request."""
        self._advance(now)
        assert self._epoch is not None
        slot = self._slots[self._epoch % self.size]
        base = _CANARY_REQ if canary else _BASE_REQ
        for offset, hit in ((0, True), (1, error), (2, fallback)):
            if hit:
                slot[base + offset] += 1
                self._totals[base + offset] += 1

    def totals(self, now: float) -> tuple[int, int, int, int, int, int]:
        """(canary requests, errors, fallbacks, baseline requests, errors, fallbacks)."""
        self._advance(now)
        t = self._totals
        return (t[0], t[1], t[2], t[3], t[4], t[5])


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class CanaryStatus:
    """What ``GET /health/canary`` reports (the write-up's fields plus the rollback state).

    ``total_requests``/``canary_requests``/``canary_percentage`` count every request since this
    canary started; the rates are over the sliding window (None: no request on that side yet).
    """

    challenger_model_id: str
    current_weight: float
    scheduled_weight: float
    total_requests: int
    canary_requests: int
    canary_percentage: float
    canary_error_rate: float | None
    baseline_error_rate: float | None
    canary_fallback_rate: float | None
    baseline_fallback_rate: float | None
    window_s: float
    window_canary_requests: int
    window_baseline_requests: int
    min_requests: int
    elapsed_s: float
    next_step_in_s: float | None
    rolled_back: bool
    rollback_reason: str | None
    rolled_back_after_s: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class CanaryController:
    """Sticky assignment by hash, time-based ramp, automatic rollback on a worse canary."""

    def __init__(
        self,
        policy: RolloutConfig,
        challenger_model_id: str,
        *,
        clock: Callable[[], float] = time.time,
        record: CanaryRecord | None = None,
    ) -> None:
        self.policy = policy
        self.challenger_model_id = challenger_model_id
        self._salt = hash_salt(challenger_model_id)
        self._clock = clock
        # Start and rollback, shared through the state backend when it gives the record.
        self.shared = record if record is not None else CanaryRecord(clock())
        self._window = SlidingCounts(policy.window_s, WINDOW_BUCKETS)
        self.total_requests = 0
        self.canary_requests = 0

    @property
    def started_at(self) -> float:
        """When the ramp started (the clock's time)."""
        return self.shared.started_at

    @property
    def rollback_reason(self) -> str | None:
        """Why the canary was rolled back (None: it was not)."""
        return self.shared.rollback_reason

    @property
    def rolled_back_at(self) -> float | None:
        """When it was rolled back."""
        return self.shared.rolled_back_at

    @property
    def rolled_back(self) -> bool:
        """Whether the canary was rolled back (its weight is 0 from then on)."""
        return self.rollback_reason is not None

    def weight(self) -> float:
        """The share of traffic the challenger routes now."""
        if self.rollback_reason is not None:
            return 0.0
        return scheduled_weight(self.policy, self._clock() - self.started_at)

    def is_canary(self, key: str) -> bool:
        """Whether the request with this stable key goes to the challenger."""
        weight = self.weight()
        return weight > 0.0 and assignment_point(key, self._salt) < weight

    def record(self, *, canary: bool, error: bool, fallback: bool) -> None:
        """Count a finished request of either side; roll back if the canary is doing worse."""
        self.total_requests += 1
        if canary:
            self.canary_requests += 1
        now = self._clock()
        self._window.add(now, canary, error, fallback)
        if self.rollback_reason is None:
            self._judge(now)

    def rollback(self, reason: str) -> None:
        """Send no more traffic to the challenger (kept until another challenger is loaded)."""
        self.shared.rollback(reason, self._clock())

    def _judge(self, now: float) -> None:
        c_req, c_err, c_fb, b_req, b_err, b_fb = self._window.totals(now)
        minimum = self.policy.min_requests
        if c_req < minimum or b_req < minimum:
            return
        for what, c_bad, b_bad, margin in (
            ("error rate", c_err, b_err, self.policy.error_margin),
            ("fallback rate", c_fb, b_fb, self.policy.fallback_margin),
        ):
            canary_rate, baseline_rate = c_bad / c_req, b_bad / b_req
            if canary_rate > baseline_rate + margin:
                self.rollback(
                    f"canary {what} {canary_rate:.1%} exceeds the baseline's {baseline_rate:.1%} "
                    f"by more than {margin:.1%} ({c_req} canary and {b_req} baseline requests "
                    f"in the last {self.policy.window_s:g} s)"
                )
                return

    def status(self) -> CanaryStatus:
        """A snapshot for ``/health/canary``."""
        now = self._clock()
        elapsed = now - self.started_at
        c_req, c_err, c_fb, b_req, b_err, b_fb = self._window.totals(now)
        scheduled = scheduled_weight(self.policy, elapsed)
        next_step: float | None = None
        if not self.rolled_back and scheduled < self.policy.max_weight and self.policy.increment:
            next_step = self.policy.interval_s - elapsed % self.policy.interval_s
        return CanaryStatus(
            challenger_model_id=self.challenger_model_id,
            current_weight=self.weight(),
            scheduled_weight=scheduled,
            total_requests=self.total_requests,
            canary_requests=self.canary_requests,
            canary_percentage=100.0 * self.canary_requests / self.total_requests
            if self.total_requests
            else 0.0,
            canary_error_rate=_rate(c_err, c_req),
            baseline_error_rate=_rate(b_err, b_req),
            canary_fallback_rate=_rate(c_fb, c_req),
            baseline_fallback_rate=_rate(b_fb, b_req),
            window_s=self.policy.window_s,
            window_canary_requests=c_req,
            window_baseline_requests=b_req,
            min_requests=self.policy.min_requests,
            elapsed_s=elapsed,
            next_step_in_s=next_step,
            rolled_back=self.rolled_back,
            rollback_reason=self.rollback_reason,
            rolled_back_after_s=None
            if self.rolled_back_at is None
            else self.rolled_back_at - self.started_at,
        )
