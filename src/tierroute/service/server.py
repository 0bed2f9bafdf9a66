"""``run``: serve the gateway with uvicorn (what ``tierroute serve`` calls)."""

from __future__ import annotations

import gc
import ipaddress
import logging
from pathlib import Path

import uvicorn

from tierroute.classifier.bootstrap import ensure_champion
from tierroute.config import GatewayConfig, get_settings, load_gateway_config
from tierroute.exceptions import ConfigError
from tierroute.service.app import create_app
from tierroute.service.http_limits import uvicorn_options
from tierroute.service.preflight import check_startup
from tierroute.store import default_spool_dir

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``): only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_exposure(config: GatewayConfig, host: str, allow_open: bool) -> None:
    """ConfigError when the gateway would serve without keys on an address others can reach."""
    if config.api_keys or allow_open or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to serve on {host} without gateway API keys: anyone who can reach it could "
        "spend your provider credit. Set TIERROUTE_API_KEYS=key1,key2, bind to 127.0.0.1, or "
        "pass --allow-open if an authenticating proxy stands in front."
    )


def run(
    config_path: Path | None,
    model_path: Path | None,
    host: str | None,
    port: int | None,
    *,
    allow_open: bool = False,
) -> None:
    """Serve until interrupted; None means the config's value (default 127.0.0.1:8000).

    Without a config the built-in default is used; without a model path the champion of the
    models directory, trained first from the labeled data if there is none yet. Without gateway
    keys only a loopback address is served, unless ``allow_open``.
    """
    config = load_gateway_config(config_path)
    host = host or config.server.host
    check_exposure(config, host, allow_open)
    if model_path is None:
        settings = get_settings()
        model_path = ensure_champion(settings.models_dir, settings.data_dir)
    # Requests allocate many short-lived objects that reference counting frees; collecting
    # generation 0 every 700 allocations mostly finds nothing. Every 50,000 is enough.
    gc.set_threshold(50_000, 20, 100)
    model = check_startup(config, model_path)
    # A served gateway always spools: a database outage must not lose log rows.
    spool_dir = config.log.spool_dir or default_spool_dir(config.log.url)
    app = create_app(config, model_path, spool_dir=spool_dir, freeze_gc=True, model=model)
    uvicorn.run(
        app,
        host=host,
        port=config.server.port if port is None else port,
        # One canonical record per request lives in the request log; no access log on top.
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=30,
        **uvicorn_options(config.server),
    )
