"""Backoff, Retry-After, circuit breaker, rate limits and key scrubbing, in isolation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.gateway.gateway_support import ManualClock
from tierroute.gateway.backoff import Backoff, parse_retry_after, retry_after_from
from tierroute.gateway.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from tierroute.gateway.dispatch import default_max_tokens_field
from tierroute.gateway.ratelimit import ModelLimiter, estimate_tokens
from tierroute.gateway.scrub import scrub


def test_backoff_ceiling_doubles_then_caps() -> None:
    backoff = Backoff(base=0.25, cap=4.0)
    assert [backoff.ceiling(n) for n in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.ceiling(10_000) == 4.0  # no overflow for absurd retry counts


def test_backoff_full_jitter_stays_within_ceiling_and_spreads() -> None:
    backoff = Backoff(base=0.25, cap=4.0, rng=random.Random(1))
    for retry in range(6):
        draws = [backoff.delay(retry) for _ in range(400)]
        ceiling = backoff.ceiling(retry)
        assert all(0.0 <= d <= ceiling for d in draws)
        # Full jitter: draws cover the whole range, not a fixed delay.
        assert min(draws) < 0.1 * ceiling and max(draws) > 0.9 * ceiling


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    first = [Backoff(0.1, 2.0, random.Random(3)).delay(n) for n in range(5)]
    second = [Backoff(0.1, 2.0, random.Random(3)).delay(n) for n in range(5)]
    assert first == second


def test_retry_after_wins_over_the_backoff_with_a_little_jitter() -> None:
    backoff = Backoff(0.25, 4.0, random.Random(0))
    delays = [backoff.delay(3, retry_after=1.5) for _ in range(50)]
    assert all(1.5 <= d <= 1.65 for d in delays)
    assert len(set(delays)) > 40  # spread, not one instant for every waiting caller


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "inf"}, 60.0),
        ({"Retry-After": "1e400"}, 60.0),
        ({"Retry-After": "Mon, 01 Jan 2035 00:00:00 GMT"}, 60.0),
        ({"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, 60.0),
        ({"Retry-After": "-inf"}, 0.0),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "250", "Retry-After": "7"}, 0.25),
        ({"retry-after-ms": "garbage", "Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "1e400"}, 60.0),
        ({}, None),
    ],
)
def test_retry_after_is_capped_and_retry_after_ms_wins(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after_from(headers, cap=60.0) == expected


def test_parse_retry_after_seconds_date_and_garbage() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None


def test_breaker_opens_after_n_consecutive_failures_only() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown=10.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the count: failures must be consecutive
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    assert not breaker.allow()


def test_breaker_half_open_lets_one_probe_and_closes_on_success() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown=10.0, clock=clock)
    breaker.record_failure()
    clock.advance(9.9)
    assert breaker.state == OPEN and not breaker.allow()
    clock.advance(0.2)
    assert breaker.state == HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.allow()


def test_breaker_failed_probe_reopens_for_another_cooldown() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown=5.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(5.0)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    clock.advance(4.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.allow()


def test_breaker_released_probe_can_be_retried_and_hold_open_is_temporary() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown=5.0, clock=clock)
    breaker.record_failure()
    clock.advance(5.0)
    assert breaker.allow()
    breaker.release()  # e.g. the probe hit our own rate limit: no verdict
    assert breaker.allow()
    breaker.record_success()
    breaker.hold_open(30.0)  # a 429 with a long Retry-After
    assert breaker.state == OPEN
    clock.advance(30.0)
    assert breaker.state == HALF_OPEN and breaker.allow()


def test_rpm_holds_in_every_60_second_window() -> None:
    # A token bucket that starts full admits 2x its rate in the first minute; the window not.
    clock = ManualClock()
    limiter = ModelLimiter(rpm=60, tpm=None, clock=clock)
    admitted: list[float] = []
    for _ in range(1200):  # one try every 0.1 s for two minutes
        if limiter.try_acquire() is not None:
            admitted.append(clock.now)
        clock.advance(0.1)
    for i, at in enumerate(admitted):
        in_window = [t for t in admitted[i:] if t < at + 60.0]
        assert len(in_window) <= 60
    assert len(admitted) == 120  # the limit, every minute


def test_rpm_slot_frees_when_it_leaves_the_window() -> None:
    clock = ManualClock()
    limiter = ModelLimiter(rpm=3, tpm=None, clock=clock)
    assert [limiter.try_acquire() is not None for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_in() == 60.0
    clock.advance(20.0)
    assert limiter.try_acquire() is None  # a bucket would have refilled one slot by now
    clock.advance(40.0)
    assert limiter.try_acquire() is not None
    assert limiter.try_acquire() is not None
    assert limiter.try_acquire() is not None
    assert limiter.try_acquire() is None


def test_refused_acquire_consumes_nothing() -> None:
    clock = ManualClock()
    limiter = ModelLimiter(rpm=2, tpm=1000, clock=clock)
    assert limiter.try_acquire(600)
    assert not limiter.try_acquire(600)  # refused on tokens (400 left)...
    assert limiter.try_acquire(400)  # ...without using up the second request slot
    assert not limiter.try_acquire(0)  # refused on requests
    clock.advance(60.0)  # both entries left the window
    assert limiter.try_acquire(1000)
    assert not limiter.try_acquire(1)


def test_tpm_settles_with_the_reported_usage_and_releases_failures() -> None:
    clock = ManualClock()
    limiter = ModelLimiter(rpm=None, tpm=1000, clock=clock)
    first = limiter.try_acquire(900)
    assert first is not None
    limiter.settle(first, 100)  # the answer was short: 800 tokens come back
    second = limiter.try_acquire(850)
    assert second is not None
    limiter.settle(second, 900)  # longer than estimated: 100 + 900 = the whole limit
    assert not limiter.try_acquire(1)
    limiter.release(second)  # the attempt failed: its tokens come back
    assert limiter.try_acquire(900)
    clock.advance(61.0)
    limiter.settle(first, 5000)  # out of the window already: changes nothing
    assert limiter.try_acquire(1000)


def test_request_larger_than_the_limit_goes_when_the_window_is_empty() -> None:
    limiter = ModelLimiter(rpm=None, tpm=100, clock=ManualClock())
    assert limiter.try_acquire(5000)
    assert not limiter.try_acquire(1)


def test_estimate_tokens_counts_prompt_and_answer_cap() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "x" * 40},
            {"role": "user", "content": [{"type": "text", "text": "y" * 80}]},
        ],
        "max_tokens": 100,
    }
    assert estimate_tokens(body, None) == 120 // 4 + 1 + 100
    assert estimate_tokens(body, 50) == 30 + 1 + 50  # the tier's cap is lower
    assert estimate_tokens({"messages": []}, 10) == 11


@pytest.mark.parametrize(
    "text",
    [
        "Incorrect API key provided: sk-proj-abcDEF123456789xyz. Find your key at ...",
        "invalid token Bearer abcdef.ghijkl",
        "key 0123456789abcdef0123456789abcdef0123 is revoked",
    ],
)
def test_scrub_masks_key_shaped_strings(text: str) -> None:
    cleaned = scrub(text)
    assert "[redacted]" in cleaned
    for secret in (
        "sk-proj-abcDEF123456789xyz",
        "abcdef.ghijkl",
        "0123456789abcdef0123456789abcdef0123",
    ):
        assert secret not in cleaned


def test_scrub_masks_a_known_secret_of_any_shape_and_truncates() -> None:
    assert scrub("your key hunter2 is wrong", ["hunter2"]) == "your key [redacted] is wrong"
    assert len(scrub("word " * 200)) == 300


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("o1", "max_completion_tokens"),
        ("o3-mini", "max_completion_tokens"),
        ("o4-mini-2025-04-16", "max_completion_tokens"),
        ("openai/o3", "max_completion_tokens"),
        ("gpt-5", "max_completion_tokens"),
        ("gpt-5-mini", "max_completion_tokens"),
        ("gpt-4.1", None),
        ("gpt-4o", None),
        ("llama3.1:8b", None),
        ("olmo-2", None),
        ("deepseek-chat", None),
    ],
)
def test_max_completion_tokens_by_model_name(model: str, field: str | None) -> None:
    assert default_max_tokens_field(model) == field
