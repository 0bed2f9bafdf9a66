"""A gateway under uvicorn with a tweaked copy of the e2e config, and the SDK pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client import CollectorRegistry

from tests.e2e.conftest import GATEWAY_KEY, PROVIDER_KEY, PROVIDER_KEY_ENV
from tests.support.live import load, serving, write_config
from tierroute.store import get_requests, open_engine

HELLO = [{"role": "user", "content": "hi"}]


@dataclass
class Tuned:
    """The served gateway: base URL, a raw HTTP client, the SDK, the log's URL."""

    url: str
    http: httpx.Client
    sdk: openai.OpenAI
    log_url: str

    def row(self, client_id: str) -> dict[str, Any]:
        """The one log row of the client's ``x-request-id`` (flushes the writer first)."""
        self.http.get("/v1/stats/cost").raise_for_status()
        engine = open_engine(self.log_url)
        try:
            (row,) = get_requests(engine, client_request_id=client_id)
        finally:
            engine.dispose()
        return row

    def metrics(self) -> str:
        """The /metrics text."""
        # Spend per model is the operator's: /metrics wants the admin key once gateway keys are set.
        answer = self.http.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        answer.raise_for_status()
        return answer.text


ADMIN_KEY = "tuned-admin-key"
TuneGateway = Callable[..., AbstractContextManager[Tuned]]


@pytest.fixture
def tuned(tmp_path: Path, small_models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> TuneGateway:
    """``with tuned(base_url, replace={old: new}, extra="toml") as gw:`` serves a gateway."""
    monkeypatch.setenv("TIERROUTE_API_KEYS", GATEWAY_KEY)
    monkeypatch.setenv("TIERROUTE_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.setenv(PROVIDER_KEY_ENV, PROVIDER_KEY)

    @contextmanager
    def start(
        base_url: str, *, replace: dict[str, str] | None = None, extra: str = ""
    ) -> Iterator[Tuned]:
        path = write_config(tmp_path, base_url, key_env=PROVIDER_KEY_ENV, extra=extra)
        text = path.read_text("utf-8")
        for old, new in (replace or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        path.write_text(text, "utf-8")
        config = load(path)
        with serving(config, small_models_dir, registry=CollectorRegistry()) as (server, _app):
            headers = {"Authorization": f"Bearer {GATEWAY_KEY}"}
            with (
                httpx.Client(base_url=server.url, headers=headers, timeout=20) as http,
                openai.OpenAI(
                    base_url=server.url + "/v1", api_key=GATEWAY_KEY, max_retries=0
                ) as sdk,
            ):
                yield Tuned(server.url, http, sdk, config.log.url)

    return start
