"""A live gateway (uvicorn, ephemeral port) with API keys, for the endpoint tests of this folder.

The provider points at a port where nothing listens and its key variable is unset, so chat
requests end in the clear 503 naming the variable; chat with a working upstream is in tests/e2e.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.support.live import Gateway, load, serving, write_config
from tierroute.store import open_engine

KEYS = ("k-test-one", "k-test-two")
PROVIDER_KEY_ENV = "TIERROUTE_TEST_UNSET_PROVIDER_KEY"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, small_models_dir: Path) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("gateway")
    path = write_config(directory, "http://127.0.0.1:9/v1", key_env=PROVIDER_KEY_ENV)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIERROUTE_API_KEYS", ",".join(KEYS))
        mp.delenv(PROVIDER_KEY_ENV, raising=False)
        config = load(path)
        registry = CollectorRegistry()
        with serving(config, small_models_dir, registry=registry) as (server, _app):
            headers = {"Authorization": f"Bearer {KEYS[0]}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
                engine = open_engine(config.log.url)
                yield Gateway(server, config, client, engine, registry, KEYS, PROVIDER_KEY_ENV)
                engine.dispose()
