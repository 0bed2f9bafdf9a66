"""Two dispatchers (as two processes) on one Redis: a failure's verdict is shared before its
request is answered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.gateway_support import BODY, KEY, KEY_ENV, make_config
from tests.support.redis_state import MakeBackend
from tierroute.gateway.dispatch import Dispatcher
from tierroute.gateway.metrics import GatewayMetrics

pytestmark = pytest.mark.redis


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = await FakeUpstream().start()
    yield fake
    await fake.stop()


async def test_the_next_request_anywhere_skips_a_model_whose_circuit_just_opened(
    upstream: FakeUpstream, make_backend: MakeBackend
) -> None:
    config = make_config(
        upstream.base_url,
        retry={"attempts_per_model": 1, "breaker_failures": 2, "breaker_cooldown": 60.0},
    )
    dispatchers = []
    for _ in range(2):
        backend = await make_backend()
        dispatcher = Dispatcher(
            config,
            metrics=GatewayMetrics(CollectorRegistry()),
            environ={KEY_ENV: KEY},
            state=backend,
        )
        await dispatcher.start()
        dispatchers.append(dispatcher)
    one, two = dispatchers
    try:
        upstream.script("a", Reply.error(500), Reply.error(500))
        for _ in range(2):
            result = await one.complete(BODY, ["fake:a", "fake:b"])
            assert result.model == "fake:b"  # a failed, b answered
        # No flush, no sleep: the second process asks Redis right away.
        result = await two.complete(BODY, ["fake:a", "fake:b"])
        assert [a.outcome for a in result.attempts] == ["circuit_open", "ok"]
        assert upstream.models_seen().count("a") == 2
        assert two.breaker_state("fake:a") == "open"
    finally:
        for dispatcher in dispatchers:
            await dispatcher.aclose()
