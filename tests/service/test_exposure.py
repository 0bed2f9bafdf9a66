"""Issue 8, item 8: who may read /metrics, and no keyless gateway on a reachable address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from tests.support.live import load, serving, write_config
from tierroute.cli import app
from tierroute.exceptions import ConfigError
from tierroute.service.server import check_exposure

GATEWAY_KEY = "k-exposure"
ADMIN_KEY = "admin-exposure"


@pytest.fixture
def metrics_status(
    tmp_path: Path, small_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[object]:
    def serve_and_scrape(mode: str, keys: bool, admin: bool) -> dict[str, int]:
        """Status of /metrics without a key, with the gateway key and with the admin key."""
        for name, on, value in (
            ("TIERROUTE_API_KEYS", keys, GATEWAY_KEY),
            ("TIERROUTE_ADMIN_KEY", admin, ADMIN_KEY),
        ):
            if on:
                monkeypatch.setenv(name, value)
            else:
                monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("TIERROUTE_SERVER__METRICS", mode)
        config = load(write_config(tmp_path, "http://127.0.0.1:9/v1"))
        with serving(config, small_models_dir, registry=CollectorRegistry()) as (server, _):
            statuses = {}
            for who, key in (("none", None), ("gateway", GATEWAY_KEY), ("admin", ADMIN_KEY)):
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                response = httpx.get(server.url + "/metrics", headers=headers, timeout=5)
                if response.status_code == 200:
                    assert response.headers["content-type"].startswith("text/plain")
                    assert "tierroute" in response.text
                else:
                    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
                statuses[who] = response.status_code
            return statuses

    yield serve_and_scrape


@pytest.mark.parametrize(
    ("mode", "keys", "admin", "expected"),
    [
        # Default: with gateway keys, only the admin key reads spend per model.
        ("auto", True, True, {"none": 401, "gateway": 403, "admin": 200}),
        ("auto", True, False, {"none": 403, "gateway": 403, "admin": 403}),
        # A keyless gateway (loopback or --allow-open) keeps /metrics open.
        ("auto", False, False, {"none": 200, "gateway": 200, "admin": 200}),
        ("admin", False, True, {"none": 401, "gateway": 403, "admin": 200}),
        ("loopback", True, True, {"none": 200, "gateway": 200, "admin": 200}),
        ("open", True, True, {"none": 200, "gateway": 200, "admin": 200}),
        ("off", True, True, {"none": 404, "gateway": 404, "admin": 404}),
    ],
)
def test_metrics_access_follows_the_config(
    metrics_status: object, mode: str, keys: bool, admin: bool, expected: dict[str, int]
) -> None:
    assert metrics_status(mode, keys, admin) == expected  # type: ignore[operator]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_a_keyless_gateway_may_serve_on_loopback(tmp_path: Path, host: str) -> None:
    config = load(write_config(tmp_path, "http://127.0.0.1:9/v1"))
    check_exposure(config.model_copy(update={"api_keys": []}), host, allow_open=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "gateway.example"])
def test_a_keyless_gateway_on_a_reachable_address_needs_allow_open(
    tmp_path: Path, host: str
) -> None:
    config = load(write_config(tmp_path, "http://127.0.0.1:9/v1")).model_copy(
        update={"api_keys": []}
    )
    with pytest.raises(ConfigError, match="--allow-open"):
        check_exposure(config, host, allow_open=False)
    check_exposure(config, host, allow_open=True)
    check_exposure(config.model_copy(update={"api_keys": ["k"]}), host, allow_open=False)


def test_serve_refuses_open_on_all_interfaces_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIERROUTE_API_KEYS", raising=False)
    config = write_config(tmp_path, "http://127.0.0.1:9/v1")
    result = CliRunner().invoke(
        app, ["serve", "--config", str(config), "--host", "0.0.0.0", "--port", "1"]
    )
    assert result.exit_code != 0
    assert "without gateway API keys" in result.output
    assert "TIERROUTE_API_KEYS" in result.output and "--allow-open" in result.output


def test_a_bad_server_limit_is_named(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "http://127.0.0.1:9/v1",
        extra='[server]\nmetrics = "public"\nheader_timeout = 0\n',
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "server.metrics" in str(caught.value) and "server.header_timeout" in str(caught.value)
