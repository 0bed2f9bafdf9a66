"""A gateway serving a private models root, for the reload and roll-out tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from tests.support.live import LiveServer, serving
from tierroute.classifier.artifacts import champion_id
from tierroute.config import GatewayConfig
from tierroute.store import get_requests, open_engine


@dataclass
class Served:
    """The server, its models root and log, the champion at start, a pooled client.

    ``http`` sends the gateway key; one pooled client, as a new one per request costs ~20 ms.
    """

    server: LiveServer
    root: Path
    log_url: str
    champion: str
    http: httpx.Client
    admin_key: str | None

    @property
    def url(self) -> str:
        return self.server.url

    def reload(self) -> httpx.Response:
        """``POST /admin/reload`` with the admin key."""
        return self.http.post(
            "/admin/reload", headers={"Authorization": f"Bearer {self.admin_key}"}
        )

    def rows(self) -> list[dict[str, Any]]:
        """Every logged request, after flushing the writer (``/v1/stats/cost`` does)."""
        self.http.get("/v1/stats/cost").raise_for_status()
        engine = open_engine(self.log_url)
        try:
            return get_requests(engine)
        finally:
            engine.dispose()

    def rows_by_id(self) -> dict[str, dict[str, Any]]:
        """Logged requests by the client's ``x-request-id`` (the tests send their own)."""
        return {str(row["client_request_id"]): row for row in self.rows()}


@contextmanager
def serve_root(
    config: GatewayConfig, root: Path, *, gateway_key: str, admin_key: str | None
) -> Iterator[Served]:
    """Serve ``root``'s champion under uvicorn with ``config``."""
    with serving(config, root, registry=CollectorRegistry()) as (server, _app):
        current = champion_id(root)
        assert current is not None
        headers = {"Authorization": f"Bearer {gateway_key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            yield Served(server, root, config.log.url, current, http, admin_key)
