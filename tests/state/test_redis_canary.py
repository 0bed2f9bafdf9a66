"""The canary's start and rollback in Redis: one ramp for every replica, kept across restarts."""

from __future__ import annotations

import asyncio

import pytest

from tests.gateway.gateway_support import ManualClock
from tests.support.redis_state import MakeBackend
from tierroute.config import RolloutConfig
from tierroute.service.canary import CanaryController
from tierroute.state.redis_backend import RedisBackend

pytestmark = pytest.mark.redis

POLICY = RolloutConfig(
    challenger="c", canary=True, initial_weight=0.1, increment=0.1, interval_s=100.0
)
KEY = "champion-1:challenger-1"


def controller(backend: RedisBackend, clock: ManualClock) -> CanaryController:
    """A canary controller as ``load_rollout`` makes one in a process using ``backend``."""
    record = backend.canary(KEY, clock())
    return CanaryController(POLICY, "challenger-1", clock=clock, record=record)


def canary_share(canary: CanaryController, keys: list[str]) -> float:
    return sum(canary.is_canary(key) for key in keys) / len(keys)


async def test_replicas_ramp_from_one_start_and_keep_it_after_a_restart(
    make_backend: MakeBackend,
) -> None:
    clock = ManualClock(1_000.0)
    first = await make_backend()
    one = controller(first, clock)
    await first.sync()
    clock.advance(250.0)  # two steps: 0.3
    second = await make_backend()  # another replica, started later
    two = controller(second, clock)
    assert two.weight() == pytest.approx(0.1)  # before it read the shared start
    await second.sync()
    assert two.started_at == 1_000.0
    assert one.weight() == two.weight() == pytest.approx(0.3)
    keys = [f"user-{i}" for i in range(5_000)]
    assert [one.is_canary(k) for k in keys] == [two.is_canary(k) for k in keys]
    assert canary_share(two, keys) == pytest.approx(0.3, abs=0.02)
    await first.aclose()
    restarted = await make_backend()
    three = controller(restarted, clock)
    await restarted.sync()
    assert three.weight() == pytest.approx(0.3)  # the ramp goes on, not from 0.1


async def test_a_rollback_by_one_replica_stops_the_canary_everywhere_for_good(
    make_backend: MakeBackend,
) -> None:
    clock = ManualClock(1_000.0)
    first, second = await make_backend(), await make_backend()
    one, two = controller(first, clock), controller(second, clock)
    await first.sync()
    await second.sync()
    one.rollback("canary error rate too high")
    await first.flush()
    assert two.weight() > 0.0  # not read yet
    await second.sync()  # every sync_s in the background; here at once
    assert two.weight() == 0.0 and two.status().rolled_back
    assert two.rollback_reason == "canary error rate too high"
    restarted = await make_backend()
    three = controller(restarted, clock)
    await restarted.sync()
    assert three.weight() == 0.0 and three.rolled_back_at == 1_000.0


async def test_the_background_sync_picks_up_another_replicas_rollback(
    make_backend: MakeBackend,
) -> None:
    clock = ManualClock(1_000.0)
    first, second = await make_backend(), await make_backend(sync_s=0.05)
    one, two = controller(first, clock), controller(second, clock)
    await first.sync()
    one.rollback("fallback rate too high")
    await first.flush()
    for _ in range(100):
        if two.rolled_back:
            break
        await asyncio.sleep(0.02)
    assert two.rollback_reason == "fallback rate too high"
