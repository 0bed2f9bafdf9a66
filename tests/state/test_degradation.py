"""Redis unreachable or failing mid-run: per-process limits at 1/N, one warning, a metric,
never an error; shared again once Redis answers."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from tests.support.pg_instance import free_port
from tests.support.redis_state import MakeBackend, PrivateRedis
from tierroute.state.base import CIRCUIT_OPEN, RATE_LIMITED, GateSpec
from tierroute.state.redis_gate import RedisTicket

pytestmark = pytest.mark.redis

SPEC = GateSpec(rpm=8, tpm=None, failure_threshold=2, cooldown=30.0, probe_ttl=5.0)
OUTAGE_LOGGER = "tierroute.state.outage"


def gauge(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("tierroute_state_backend_degraded")


def fallbacks(registry: CollectorRegistry, operation: str) -> float:
    value = registry.get_sample_value("tierroute_state_fallbacks_total", {"operation": operation})
    return value or 0.0


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == OUTAGE_LOGGER and r.levelno == logging.WARNING
    ]


async def test_no_redis_at_all_serves_a_share_of_each_budget(
    make_backend: MakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    registry = CollectorRegistry()
    dead = f"redis://127.0.0.1:{free_port()}/0"
    backend = await make_backend(url=dead, processes=4, reconnect_s=0.05, registry=registry)
    gate = backend.gate("m", SPEC)
    answers = []
    for _ in range(6):
        answers.append(await gate.admit())
        await asyncio.sleep(0.02)  # retries Redis along the way, and fails again
    assert [a.refused for a in answers] == [None, None] + [RATE_LIMITED] * 4  # 8 rpm / 4
    assert not any(isinstance(a.ticket, RedisTicket) for a in answers)
    assert backend.degraded and gauge(registry) == 1.0
    assert fallbacks(registry, "admit") == 6
    gate.record_failure()
    gate.record_failure()  # the breaker works too, in the process
    await backend.flush()
    assert (await gate.admit()).refused == CIRCUIT_OPEN
    backend.canary("a:b", 1.0)
    await backend.sync()  # nothing to read, nothing raised
    assert len(warnings_of(caplog)) == 1  # once per outage, not per request
    assert "unreachable" in warnings_of(caplog)[0]


async def test_redis_dying_mid_run_then_coming_back(
    make_backend: MakeBackend,
    private_redis: PrivateRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    private_redis.start()
    registry = CollectorRegistry()
    backend = await make_backend(
        url=private_redis.url, processes=2, reconnect_s=0.1, registry=registry
    )
    gate = backend.gate("m", SPEC)
    shared = await gate.admit()
    assert isinstance(shared.ticket, RedisTicket) and gauge(registry) == 0.0
    private_redis.kill()
    during = [await gate.admit() for _ in range(6)]
    assert [a.refused for a in during] == [None] * 4 + [RATE_LIMITED] * 2  # 8 rpm / 2
    assert gauge(registry) == 1.0 and len(warnings_of(caplog)) == 1
    gate.settle(shared.ticket, 10)  # a write for a Redis that is gone: dropped, counted
    await backend.flush()
    assert fallbacks(registry, "settle") == 1
    private_redis.start()  # same port, empty
    await asyncio.sleep(0.15)
    back = await gate.admit()
    assert isinstance(back.ticket, RedisTicket)  # shared again
    assert not backend.degraded and gauge(registry) == 0.0
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    assert len(warnings_of(caplog)) == 1
