"""Run an ASGI app under uvicorn on an ephemeral 127.0.0.1 port, in a background thread."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from tierroute.config import GatewayConfig, load_gateway_config


@dataclass
class Gateway:
    """A running gateway and what tests need to talk to it and inspect its log."""

    server: LiveServer
    config: GatewayConfig
    client: httpx.Client
    engine: Engine
    registry: CollectorRegistry
    keys: tuple[str, ...] = ()
    provider_key_env: str | None = None

    @property
    def url(self) -> str:
        """Base URL of the gateway."""
        return self.server.url


class LiveServer:
    """``with LiveServer(app) as server: server.url``; lifespan runs on enter and on exit."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start (see the log above)")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def write_config(
    directory: Path,
    base_url: str,
    *,
    log_url: str | None = None,
    extra: str = "",
    key_env: str | None = None,
) -> Path:
    """A gateway TOML with one provider ``fake`` at ``base_url`` and a two-model chain per tier.

    Tier chains: simple_faq -> fake:small then fake:medium; moderate_conv -> fake:medium then
    fake:large; complex_reasoning -> fake:large then fake:medium; code_gen -> fake:coder then
    fake:large. Prices are set so that costs are easy to check.
    """
    log_url = log_url or f"sqlite:///{directory / 'log.db'}"
    key_line = f'api_key_env = "{key_env}"' if key_env else ""
    text = textwrap.dedent(
        f"""
        [routing]
        default_tier = "moderate_conv"

        [providers.fake]
        base_url = "{base_url}"
        {key_line}
        connect_timeout = 2.0
        read_timeout = 5.0

        [tiers.simple_faq]
        models = ["fake:small", "fake:medium"]
        max_tokens = 512

        [tiers.moderate_conv]
        models = ["fake:medium", "fake:large"]
        max_tokens = 2048

        [tiers.complex_reasoning]
        models = ["fake:large", "fake:medium"]
        max_tokens = 4096

        [tiers.code_gen]
        models = ["fake:coder", "fake:large"]
        max_tokens = 2048

        [prices."fake:small"]
        input = 1.0
        output = 2.0

        [prices."fake:medium"]
        input = 3.0
        output = 15.0

        [prices."fake:large"]
        input = 2.0
        output = 8.0

        [prices."fake:coder"]
        input = 0.28
        output = 0.42

        [retry]
        attempts_per_model = 2
        backoff_base = 0.01
        backoff_cap = 0.05
        max_retry_after = 1.0
        breaker_failures = 3
        breaker_cooldown = 0.5

        [log]
        url = "{log_url}"
        store_text = true
        """
    )
    path = directory / "tierroute.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


@contextmanager
def serving(
    config: GatewayConfig, model_dir: Path, **kwargs: Any
) -> Iterator[tuple[LiveServer, Any]]:
    """The gateway app for ``config`` under uvicorn; yields (server, app)."""
    from tierroute.service.app import create_app

    app = create_app(config, model_dir, **kwargs)
    with LiveServer(app) as server:
        yield server, app


def load(path: Path) -> GatewayConfig:
    """Load a config file (environment overrides apply)."""
    return load_gateway_config(path)
