"""Two gateways (as two replicas) on one Redis, through real sockets: one rpm budget, one breaker."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.live import load, serving, write_config
from tests.support.pg_instance import free_port
from tests.support.redis_state import REDIS_URL

pytestmark = pytest.mark.redis

KEY_ENV = "TIERROUTE_STATE_TEST_PROVIDER_KEY"
BODY = {"messages": [{"role": "user", "content": "Say hello."}]}


Replicas = tuple[FakeUpstream, list[httpx.Client], list[CollectorRegistry]]


@contextmanager
def gateways(
    count: int, directory: Path, models: Path, state_url: str, prefix: str
) -> Iterator[Replicas]:
    """One fake upstream, ``count`` gateways with ``[state] url = state_url`` (each its own log
    and registry); fake:medium is limited to 3 rpm."""
    extra = textwrap.dedent(
        f"""
        [limits."fake:medium"]
        rpm = 3

        [state]
        url = "{state_url}"
        prefix = "{prefix}"
        processes = 2
        reconnect_s = 0.1
        """
    )
    with FakeUpstream().running() as fake, ExitStack() as stack:
        clients, registries = [], []
        for i in range(count):
            root = directory / f"gateway-{i}"
            root.mkdir()
            config = load(write_config(root, fake.base_url, key_env=KEY_ENV, extra=extra))
            registry = CollectorRegistry()
            server, _app = stack.enter_context(serving(config, models, registry=registry))
            clients.append(stack.enter_context(httpx.Client(base_url=server.url, timeout=10)))
            registries.append(registry)
        yield fake, clients, registries


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-state-test")
    monkeypatch.setenv("TIERROUTE_SERVER__METRICS", "open")
    monkeypatch.setenv("TIERROUTE_RETRY__BREAKER_COOLDOWN", "60")


@pytest.fixture
def replicas(tmp_path: Path, small_models_dir: Path, redis_prefix: str) -> Iterator[Replicas]:
    """Two gateways sharing state in the Redis at 6379."""
    with gateways(2, tmp_path, small_models_dir, REDIS_URL, redis_prefix) as running:
        yield running


def test_a_gateway_without_its_redis_still_answers_within_its_share(
    tmp_path: Path, small_models_dir: Path
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with gateways(1, tmp_path, small_models_dir, dead, "unused") as (fake, clients, registries):
        answers = [chat(clients[0], "fake:medium").status_code for _ in range(3)]
        assert answers == [200, 429, 429]  # 3 rpm / 2 processes: 1 for this one
        assert chat(clients[0], "fake:large").status_code == 200  # unlimited: unaffected
        ready = clients[0].get("/readyz")
        assert ready.status_code == 200 and ready.json()["state_degraded"] is True
        assert registries[0].get_sample_value("tierroute_state_backend_degraded") == 1.0
        assert len(fake.seen("medium")) == 1


def chat(client: httpx.Client, model: str) -> httpx.Response:
    return client.post("/v1/chat/completions", json={**BODY, "model": model})


def test_two_replicas_share_one_rpm_budget(replicas: Replicas) -> None:
    fake, clients, registries = replicas
    answers = [chat(clients[i % 2], "fake:medium") for i in range(8)]
    assert [a.status_code for a in answers].count(200) == 3  # rpm = 3 across both
    assert len(fake.seen("medium")) == 3
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) == 5
    # The oldest admission leaves the 60 s window within a minute (plus up to 10 % jitter).
    assert all(0 < int(a.headers["retry-after"]) <= 67 for a in limited)
    assert {a.status_code for a in answers[3:]} == {429}
    for client, registry in zip(clients, registries, strict=True):
        assert registry.get_sample_value("tierroute_state_backend_degraded") == 0.0
        ready = client.get("/readyz").json()
        assert ready["state_backend"] == "redis" and ready["state_degraded"] is False


def test_a_breaker_opened_by_one_replica_is_open_on_the_other(replicas: Replicas) -> None:
    fake, clients, _ = replicas
    fake.script("large", *[Reply.error(500)] * 3)  # breaker_failures = 3; 500: no retry
    for _ in range(3):
        assert chat(clients[0], "fake:large").status_code == 503
    assert len(fake.seen("large")) == 3
    skipped = chat(clients[1], "fake:large")  # the next request, on the other replica
    assert skipped.status_code == 429  # circuit open: resting, come back later
    assert skipped.json()["error"]["code"] is not None
    assert len(fake.seen("large")) == 3  # never reached the provider
    health = clients[1].get("/metrics").text
    assert 'tierroute_circuit_state{model="fake:large"} 2.0' in health
