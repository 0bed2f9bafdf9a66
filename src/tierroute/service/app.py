"""``create_app``: the FastAPI application; its lifespan loads everything, nothing at import.

The lifespan loads and verifies the model (and the configured challenger, service.rollout),
builds the router (classifier + config), opens the request log and its writer thread, and
starts the dispatcher's pooled upstream client; on shutdown it closes the client and drains
the log writer, so nothing queued is lost. ``POST /admin/reload`` and SIGHUP swap in a new
champion while serving (service.reload).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from tierroute import __version__
from tierroute.classifier.model import TierModel, load_model
from tierroute.config import GatewayConfig
from tierroute.gateway.dispatch import Dispatcher
from tierroute.service.errors import install_error_handlers
from tierroute.service.metrics import ServiceMetrics
from tierroute.service.openapi import install_openapi
from tierroute.service.reload import Reloader, rollout_mode
from tierroute.service.rollout import load_rollout, models_root_of
from tierroute.service.routes import (
    admin,
    canary,
    chat,
    classify,
    feedback,
    health,
    metrics,
    models,
    stats,
)
from tierroute.service.routing import TierRouter
from tierroute.service.state import ServiceState
from tierroute.state.backends import open_backend
from tierroute.store import LogWriter, key_hasher, open_engine

logger = logging.getLogger(__name__)

NO_KEYS_WARNING = (
    "\n"
    "*************************************************************************\n"
    "*  NO GATEWAY API KEYS CONFIGURED: every endpoint is open to anyone who  *\n"
    "*  can reach this port. Set TIERROUTE_API_KEYS=key1,key2 to require      *\n"
    "*  'Authorization: Bearer <key>'.                                        *\n"
    "*************************************************************************"
)


def create_app(
    config: GatewayConfig,
    model_path: Path,
    *,
    registry: CollectorRegistry | None = None,
    dead_letter: Path | None = None,
    spool_dir: Path | None = None,
    freeze_gc: bool = False,
    model: TierModel | None = None,
) -> FastAPI:
    """The gateway app for ``config``, routing with the model at ``model_path``.

    ``registry`` receives the app's metrics (a fresh one by default); ``dead_letter`` is where
    log rows go that the database refuses; ``spool_dir`` turns on the durable spool for rows
    the database cannot take now (``serve`` always sets it) and holds the log secret;
    ``freeze_gc`` (for a serving process, not tests) moves everything loaded at start-up out of
    the garbage collector's reach; ``model`` is the model at ``model_path`` when the caller has
    loaded (and checked) it already.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        served = model if model is not None else await asyncio.to_thread(load_model, model_path)
        router = TierRouter(config, served)
        # Reloads and the challenger look in the models root the served model belongs to.
        models_root = models_root_of(model_path)
        service_metrics = ServiceMetrics(registry)
        # Breakers, limits and the canary's start and rollback (shared with Redis).
        state_backend = open_backend(config.state, registry=service_metrics.registry)
        await state_backend.start()
        rollout = await asyncio.to_thread(
            load_rollout, config, models_root, served.model_id, None, state_backend
        )
        await state_backend.sync()
        engine = await asyncio.to_thread(open_engine, config.log.url)
        writer = LogWriter(
            engine,
            dead_letter=dead_letter,
            spool_dir=spool_dir,
            max_queue=config.log.queue_max,
        )
        writer.start()
        service_metrics.watch_log_backlog(lambda: writer.backlog)
        service_metrics.watch_log_writer(writer)
        hasher = await asyncio.to_thread(key_hasher, config.log_secret, spool_dir)
        dispatcher = Dispatcher(config, metrics=service_metrics.gateway, state=state_backend)
        await dispatcher.start()
        if not config.api_keys:
            logger.warning(NO_KEYS_WARNING)
        logger.info(
            "serving model %s (tiers %s), %d upstream models, log at %s",
            served.model_id,
            ", ".join(served.tiers),
            len(router.model_names),
            engine.url.render_as_string(hide_password=True),
        )
        reloader = Reloader(config, models_root, state_backend)
        state = ServiceState(config, router, dispatcher, engine, writer, service_metrics)
        state.rollout, state.reloader, state.hasher = rollout, reloader, hasher
        sighup = reloader.install_sighup(state)
        logger.info(
            "challenger: %s (%s); reload with POST /admin/reload%s",
            rollout.model_id if rollout else "none",
            rollout_mode(rollout),
            " or SIGHUP" if sighup else "",
        )
        app.state.tierroute = state
        if freeze_gc:
            # The model, config and libraries live as long as the process: frozen, they are
            # no longer walked by every full collection (~12 % of the CPU per chat request).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            reloader.remove_sighup()
            app.state.tierroute = None
            await dispatcher.aclose()
            await state_backend.aclose()
            await asyncio.to_thread(writer.close)
            engine.dispose()
            logger.info("request log closed: %d rows written", writer.written)

    app = FastAPI(
        title="tierroute",
        version=__version__,
        summary="Routes each LLM query to the cheapest model tier that answers it well.",
        lifespan=lifespan,
        # No OpenTelemetry instrumentation on the hot path; /metrics is prometheus.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    install_openapi(app, config)
    # Chat first: routes are matched in order, and it is the hot path.
    for module in (chat, classify, models, feedback, stats, health, canary, admin, metrics):
        app.include_router(module.router)
    return app
