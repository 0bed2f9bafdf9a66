"""The canary controller: sticky hashed assignment, the ramp on an injected clock, rollback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.gateway.gateway_support import ManualClock
from tierroute.config import RolloutConfig
from tierroute.service.canary import (
    CanaryController,
    SlidingCounts,
    assignment_point,
    hash_salt,
)

HOUR = 3600.0


def controller(clock: ManualClock, **policy: float) -> CanaryController:
    return CanaryController(RolloutConfig(**policy), "challenger-1", clock=clock)  # type: ignore[arg-type]


def test_share_of_keys_on_the_canary_matches_the_weight() -> None:
    clock = ManualClock()
    canary = controller(clock, initial_weight=0.3, increment=0.0)
    keys = [f"user-{i}" for i in range(10_000)]
    share = sum(canary.is_canary(key) for key in keys) / len(keys)
    assert share == pytest.approx(0.3, abs=0.02)


def test_assignment_is_sticky_and_a_canary_user_stays_on_the_canary_as_the_weight_grows() -> None:
    clock = ManualClock()
    canary = controller(clock)  # 10 %, +15 % an hour
    keys = [f"user-{i}" for i in range(2000)]
    first = {key: canary.is_canary(key) for key in keys}
    assert first == {key: canary.is_canary(key) for key in keys}  # same answer every time
    clock.advance(2 * HOUR)  # 40 %
    later = {key: canary.is_canary(key) for key in keys}
    assert all(later[key] for key in keys if first[key])
    assert sum(later.values()) > sum(first.values())


def test_assignment_is_the_same_in_another_process() -> None:
    # Python's hash() is salted per process; the canary's hash must not be.
    code = (
        "from tierroute.service.canary import assignment_point, hash_salt;"
        "print(repr(assignment_point('alice', hash_salt('m-1'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert float(out) == assignment_point("alice", hash_salt("m-1"))


def test_points_depend_on_the_salt_and_lie_in_the_unit_interval() -> None:
    points_a = [assignment_point(f"k{i}", hash_salt("a")) for i in range(500)]
    points_b = [assignment_point(f"k{i}", hash_salt("b")) for i in range(500)]
    assert all(0.0 <= p < 1.0 for p in points_a + points_b)
    assert points_a != points_b


def test_ramp_follows_the_writeup_schedule_and_stops_at_the_maximum() -> None:
    clock = ManualClock()
    canary = controller(clock)
    weights = []
    for _ in range(9):
        weights.append(canary.weight())
        clock.advance(HOUR)
    assert weights == [0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0, 1.0, 1.0]


def test_ramp_steps_only_on_whole_intervals_and_honours_a_lower_maximum() -> None:
    clock = ManualClock()
    canary = controller(clock, initial_weight=0.05, increment=0.1, interval_s=600, max_weight=0.3)
    assert canary.weight() == 0.05
    clock.advance(599.9)
    assert canary.weight() == 0.05
    assert canary.status().next_step_in_s == pytest.approx(0.1)
    clock.advance(0.1)
    assert canary.weight() == pytest.approx(0.15)
    clock.advance(10 * 600)
    assert canary.weight() == 0.3
    assert canary.status().next_step_in_s is None


def test_zero_weight_sends_nobody_to_the_canary() -> None:
    canary = controller(ManualClock(), initial_weight=0.0, increment=0.0)
    assert not any(canary.is_canary(f"u{i}") for i in range(1000))


def spread(i: int, hits: int, n: int) -> bool:
    """Whether event ``i`` of ``n`` is one of ``hits`` spread evenly over them."""
    return (i + 1) * hits // n > i * hits // n


def feed(
    canary: CanaryController, n: int, *, canary_side: bool, errors: int = 0, fb: int = 0
) -> None:
    for i in range(n):
        canary.record(canary=canary_side, error=spread(i, errors, n), fallback=spread(i, fb, n))


def test_error_burst_on_the_canary_rolls_back_to_zero_with_a_reason() -> None:
    clock = ManualClock()
    canary = controller(clock, min_requests=50, error_margin=0.02)
    feed(canary, 200, canary_side=False, errors=2)  # baseline: 1 %
    feed(canary, 49, canary_side=True, errors=49)  # below the minimum: not judged yet
    assert not canary.rolled_back
    feed(canary, 1, canary_side=True, errors=1)
    assert canary.rolled_back
    assert canary.weight() == 0.0
    assert not any(canary.is_canary(f"u{i}") for i in range(1000))
    status = canary.status()
    assert status.rolled_back and status.current_weight == 0.0
    assert status.rollback_reason is not None and "error rate" in status.rollback_reason
    assert status.canary_error_rate == 1.0 and status.baseline_error_rate == 0.01
    clock.advance(24 * HOUR)  # the ramp does not bring it back
    assert canary.weight() == 0.0


def test_canary_within_the_margin_is_not_rolled_back() -> None:
    canary = controller(ManualClock(), min_requests=100, error_margin=0.02)
    feed(canary, 1000, canary_side=False, errors=10)  # 1 %
    feed(canary, 1000, canary_side=True, errors=30)  # 3 %: exactly the margin above
    assert not canary.rolled_back


def test_more_fallbacks_on_the_canary_roll_back() -> None:
    canary = controller(ManualClock(), min_requests=100, fallback_margin=0.05)
    feed(canary, 300, canary_side=False, fb=15)  # 5 %
    feed(canary, 300, canary_side=True, fb=60)  # 20 %
    assert canary.rolled_back
    assert "fallback rate" in (canary.rollback_reason or "")


def test_baseline_needs_enough_requests_too() -> None:
    canary = controller(ManualClock(), min_requests=100)
    feed(canary, 50, canary_side=False)
    feed(canary, 500, canary_side=True, errors=500)
    assert not canary.rolled_back


def test_old_errors_leave_the_window() -> None:
    clock = ManualClock()
    canary = controller(clock, min_requests=100, window_s=600, increment=0.0)
    feed(canary, 200, canary_side=True, errors=5)  # 2.5 %, baseline has no requests yet
    clock.advance(700)  # the window forgets them
    feed(canary, 200, canary_side=False)
    feed(canary, 200, canary_side=True)
    status = canary.status()
    assert status.window_canary_requests == 200 and status.canary_error_rate == 0.0
    assert not canary.rolled_back
    assert status.total_requests == 600 and status.canary_requests == 400
    assert status.canary_percentage == pytest.approx(100 * 400 / 600)


def test_sliding_counts_stay_bounded_and_expire_slice_by_slice() -> None:
    counts = SlidingCounts(span_s=60.0, buckets=6)  # 10-second slices
    for second in range(0, 60):
        counts.add(float(second), canary=second % 2 == 0, error=second % 3 == 0, fallback=False)
    assert counts.totals(59.0)[0] + counts.totals(59.0)[3] == 60
    # At t=65 the slice [0, 10) has left the window.
    assert sum(counts.totals(65.0)[i] for i in (0, 3)) == 50
    assert counts.totals(1000.0) == (0, 0, 0, 0, 0, 0)
    assert len(counts._slots) == 6


def test_status_has_the_writeup_fields() -> None:
    clock = ManualClock()
    canary = controller(clock)
    feed(canary, 3, canary_side=True, errors=1)
    feed(canary, 7, canary_side=False)
    status = canary.status().to_dict()
    for field in (
        "current_weight",
        "total_requests",
        "canary_requests",
        "canary_percentage",
        "canary_error_rate",
        "baseline_error_rate",
        "rolled_back",
        "rollback_reason",
    ):
        assert field in status
    assert status["total_requests"] == 10 and status["canary_requests"] == 3
    assert status["canary_percentage"] == pytest.approx(30.0)
    assert status["canary_error_rate"] == pytest.approx(1 / 3)
    assert status["baseline_error_rate"] == 0.0


def test_policy_refuses_an_impossible_ramp() -> None:
    with pytest.raises(ValueError, match="above max_weight"):
        RolloutConfig(initial_weight=0.5, max_weight=0.2)
    with pytest.raises(ValueError, match="increment"):
        RolloutConfig(increment=1.5)
