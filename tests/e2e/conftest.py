"""End to end: the fake upstream (tests/fakes), the gateway under uvicorn, the openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client import CollectorRegistry

from tests.fakes.upstream import FakeUpstream
from tests.support.live import Gateway, load, serving, write_config
from tierroute.store import open_engine

GATEWAY_KEY = "gw-e2e-key"
PROVIDER_KEY_ENV = "TIERROUTE_E2E_PROVIDER_KEY"
PROVIDER_KEY = "sk-e2e-provider-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream().running() as upstream:
        yield upstream


@pytest.fixture
def gateway(
    fake: FakeUpstream, tmp_path: Path, small_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Gateway]:
    """A fresh gateway per test (own breakers, limits and log) in front of the shared fake."""
    fake.reset()
    monkeypatch.setenv("TIERROUTE_API_KEYS", GATEWAY_KEY)
    monkeypatch.setenv("TIERROUTE_SERVER__METRICS", "open")  # tests read spend with the gateway key
    monkeypatch.setenv(PROVIDER_KEY_ENV, PROVIDER_KEY)
    config = load(write_config(tmp_path, fake.base_url, key_env=PROVIDER_KEY_ENV))
    registry = CollectorRegistry()
    with serving(
        config, small_models_dir, registry=registry, dead_letter=tmp_path / "dead.jsonl"
    ) as (
        server,
        _app,
    ):
        headers = {"Authorization": f"Bearer {GATEWAY_KEY}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            engine = open_engine(config.log.url)
            yield Gateway(
                server, config, client, engine, registry, (GATEWAY_KEY,), PROVIDER_KEY_ENV
            )
            engine.dispose()


@pytest.fixture
def sdk(gateway: Gateway) -> Iterator[openai.OpenAI]:
    """The official client pointed at the gateway; no client-side retries (we count attempts)."""
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
    yield client
    client.close()
