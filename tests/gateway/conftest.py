"""Fixtures for the gateway core: the fake upstream on a loopback port and dispatcher builders.

Dispatchers get their own prometheus registry, a manual clock (breaker cooldowns and rate
limits move only when a test says so), a seeded RNG and a sleep that records the delay instead
of sleeping, so backoff can be asserted exactly and fast.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tests.fakes.upstream import FakeUpstream
from tests.gateway.gateway_support import (
    KEY,
    KEY_ENV,
    Harness,
    MakeHarness,
    ManualClock,
    make_config,
)
from tierroute.gateway.dispatch import Dispatcher
from tierroute.gateway.metrics import GatewayMetrics


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    """The fake provider, serving in the test's event loop."""
    fake = await FakeUpstream().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def make_harness(upstream: FakeUpstream) -> AsyncIterator[MakeHarness]:
    """Build and start dispatchers against ``upstream``; all are closed after the test."""
    started: list[Dispatcher] = []

    async def make(
        *,
        real_clock: bool = False,
        real_sleep: bool = False,
        environ: dict[str, str] | None = None,
        **sections: Any,
    ) -> Harness:
        config = make_config(upstream.base_url, **sections)
        registry = CollectorRegistry()
        clock: Callable[[], float] = time.monotonic if real_clock else ManualClock()
        delays: list[float] = []

        async def record_sleep(seconds: float) -> None:
            delays.append(seconds)
            if real_sleep:
                await asyncio.sleep(seconds)

        dispatcher = Dispatcher(
            config,
            metrics=GatewayMetrics(registry),
            sleep=record_sleep,
            rng=random.Random(7),
            clock=clock,
            environ={KEY_ENV: KEY} if environ is None else environ,
        )
        await dispatcher.start()
        started.append(dispatcher)
        return Harness(dispatcher, config, registry, clock, delays)

    yield make
    for dispatcher in started:
        await dispatcher.aclose()
