"""The Redis rate limits: one atomic decision, shared by processes, never over the limit."""

from __future__ import annotations

import asyncio
import bisect
import subprocess
import sys

import orjson
import pytest

from tests.conftest import REPO
from tests.state.hammer import hammer
from tests.support.redis_state import MakeBackend
from tierroute.state.base import CIRCUIT_OPEN, RATE_LIMITED, GateSpec
from tierroute.state.redis_gate import RedisTicket

pytestmark = pytest.mark.redis


def spec(rpm: int | None, tpm: int | None, failure_threshold: int = 3) -> GateSpec:
    """Limits as given; the breaker opens at ``failure_threshold`` for 30 s."""
    return GateSpec(rpm, tpm, failure_threshold, cooldown=30.0, probe_ttl=10.0)


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` in any half-open window (t - window, t]."""
    ordered = sorted(times)
    return max(
        (i + 1 - bisect.bisect_right(ordered, t - window) for i, t in enumerate(ordered)),
        default=0,
    )


async def test_no_window_admits_more_than_the_limit_across_processes(
    make_backend: MakeBackend, redis_prefix: str
) -> None:
    rpm, window, seconds = 20, 1.0, 3.5
    other = subprocess.Popen(
        [sys.executable, "-m", "tests.state.hammer", redis_prefix, str(rpm), str(window),
         str(seconds)],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        # Two more processes' worth in this one: two backends, two connection pools.
        here = await asyncio.gather(
            hammer(redis_prefix, rpm, window, seconds), hammer(redis_prefix, rpm, window, seconds)
        )
        out, _ = other.communicate(timeout=60)
    finally:
        other.kill()
    assert other.returncode == 0
    theirs = orjson.loads(out)
    times = [*here[0], *here[1], *theirs]
    assert theirs and here[0] and here[1]  # every process got some
    assert most_in_any_window(times, window) == rpm  # full, and never more
    # The window slides: about rpm per window over the run, not rpm in all.
    assert len(times) >= rpm * 3


async def test_a_refusal_takes_nothing_and_says_when_to_retry(make_backend: MakeBackend) -> None:
    backend = await make_backend(window_s=2.0)
    gate = backend.gate("m", spec(2, 100))
    first = await gate.admit(90)
    assert first.refused is None and isinstance(first.ticket, RedisTicket)
    over_tpm = await gate.admit(50)
    assert over_tpm.refused == RATE_LIMITED and over_tpm.ticket is None
    assert 0.0 < over_tpm.retry_in <= 2.0
    assert (await gate.admit(5)).refused is None  # the refusal took no request slot
    over_rpm = await gate.admit(0)
    assert over_rpm.refused == RATE_LIMITED
    await asyncio.sleep(over_rpm.retry_in + 0.05)
    assert (await gate.admit(0)).refused is None


async def test_tokens_settle_to_usage_and_failed_attempts_give_them_back(
    make_backend: MakeBackend,
) -> None:
    one, two = await make_backend(), await make_backend()
    gate_one = one.gate("m", spec(None, 100))
    gate_two = two.gate("m", spec(None, 100))
    assert gate_one.counts_tokens
    estimate = await gate_one.admit(60)
    assert estimate.ticket is not None and estimate.ticket.tokens == 60
    assert (await gate_two.admit(60)).refused == RATE_LIMITED  # 60 + 60 > 100, seen by both
    gate_one.settle(estimate.ticket, 10)  # the answer used 10
    await one.flush()
    second = await gate_two.admit(60)  # 10 + 60
    assert second.refused is None and second.ticket is not None
    assert (await gate_one.admit(31)).refused == RATE_LIMITED  # 70 + 31
    gate_two.release(second.ticket)  # that attempt failed: its 60 come back
    await two.flush()
    assert (await gate_one.admit(90)).refused is None  # 10 + 90


async def test_an_open_circuit_refuses_before_counting(make_backend: MakeBackend) -> None:
    backend = await make_backend()
    gate = backend.gate("m", spec(1, None, failure_threshold=1))
    gate.hold_open(0.3)
    await backend.flush()
    refused = await gate.admit()
    assert refused.refused == CIRCUIT_OPEN and 0.0 < refused.retry_in <= 0.3
    await asyncio.sleep(0.35)
    probe = await gate.admit()  # the one rpm slot is still free: the refusal did not take it
    assert probe.refused is None and isinstance(probe.ticket, RedisTicket)
    assert (await gate.admit()).refused == CIRCUIT_OPEN  # half-open: one probe at a time
    other = backend.gate("n", spec(1, None))  # another model: its own window
    assert (await other.admit()).refused is None


async def test_a_rate_limited_probe_gives_the_probe_back(make_backend: MakeBackend) -> None:
    one, two = await make_backend(), await make_backend()
    gate_one, gate_two = one.gate("m", spec(1, None)), two.gate("m", spec(1, None))
    assert (await gate_one.admit()).refused is None  # the one slot of the window
    gate_one.hold_open(0.2)
    await one.flush()
    await asyncio.sleep(0.25)
    assert (await gate_one.admit()).refused == RATE_LIMITED  # half-open, but no slot
    assert (await gate_two.admit()).refused == RATE_LIMITED  # not "probe out": it was given back
