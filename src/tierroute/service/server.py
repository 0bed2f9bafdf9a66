"""``run``: serve the gateway with uvicorn (what ``tierroute serve`` calls)."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

import uvicorn

from tierroute.classifier.bootstrap import ensure_champion
from tierroute.config import get_settings, load_gateway_config
from tierroute.service.app import create_app
from tierroute.store import default_spool_dir

logger = logging.getLogger(__name__)


def run(
    config_path: Path | None,
    model_path: Path | None,
    host: str | None,
    port: int | None,
) -> None:
    """Serve until interrupted; None means the config's value (default 127.0.0.1:8000).

    Without a config the built-in default is used; without a model path the champion of the
    models directory, trained first from the labeled data if there is none yet.
    """
    config = load_gateway_config(config_path)
    if model_path is None:
        settings = get_settings()
        model_path = ensure_champion(settings.models_dir, settings.data_dir)
    # Requests allocate many short-lived objects that reference counting frees; collecting
    # generation 0 every 700 allocations mostly finds nothing. Every 50,000 is enough.
    gc.set_threshold(50_000, 20, 100)
    # A served gateway always spools: a database outage must not lose log rows.
    spool_dir = config.log.spool_dir or default_spool_dir(config.log.url)
    app = create_app(config, model_path, spool_dir=spool_dir, freeze_gc=True)
    uvicorn.run(
        app,
        host=host or config.server.host,
        port=config.server.port if port is None else port,
        # One canonical record per request lives in the request log; no access log on top.
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=30,
    )
