"""What the lifespan builds and every request uses: one ``ServiceState`` per app."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tierroute.config import GatewayConfig
from tierroute.gateway.dispatch import Dispatcher
from tierroute.service.metrics import ServiceMetrics
from tierroute.service.routing import TierRouter
from tierroute.store import KeyHasher, LogWriter

if TYPE_CHECKING:
    from tierroute.service.reload import Reloader
    from tierroute.service.rollout import Rollout


@dataclass(slots=True)
class ServiceState:
    """The loaded model and router, the dispatcher, the request log, the metrics, the rollout."""

    config: GatewayConfig
    router: TierRouter
    dispatcher: Dispatcher
    engine: Engine
    writer: LogWriter
    metrics: ServiceMetrics
    started_at: float = field(default_factory=time.time)
    # Keyed hashes of gateway keys and user ids for the log (store.keys).
    hasher: KeyHasher = field(default_factory=KeyHasher.ephemeral)
    # The challenger (shadow/canary) and the reloader that swaps router and rollout together.
    rollout: Rollout | None = None
    reloader: Reloader | None = None

    @property
    def max_body_bytes(self) -> int:
        """Largest request body accepted (413 above)."""
        return self.config.server.max_body_bytes

    @property
    def store_text(self) -> bool:
        """Whether redacted query text goes into the log."""
        return self.config.log.store_text
