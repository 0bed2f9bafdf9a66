"""Whether the shared state can be used now; what an outage looks like from outside.

Redis failing is an outage, never a failed request: the caller falls back to the process's own
state. The first failure logs one warning, sets ``tierroute_state_backend_degraded`` to 1 and
keeps requests off Redis for ``reconnect_s``; then a single call tries it again (the others stay
local meanwhile, so a stalled Redis costs one timeout per interval, not one per request). The
first success logs the recovery and sets the gauge back to 0. Every decision or write made
locally instead counts in ``tierroute_state_fallbacks_total{operation}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

logger = logging.getLogger(__name__)


class StateMetrics:
    """The state backend's metrics, on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.degraded = Gauge(
            "tierroute_state_backend_degraded",
            "1 while the shared state backend (Redis) cannot be reached and each process "
            "uses its own limits (1/processes of each budget) and breakers.",
            registry=registry,
        )
        self.fallbacks = Counter(
            "tierroute_state_fallbacks",
            "Decisions and writes made in the process because the shared state backend "
            "could not be reached, by operation.",
            ["operation"],
            registry=registry,
        )
        self._children: dict[str, Counter] = {}

    def fallback(self, operation: str) -> None:
        """Count one operation done without the shared state."""
        child = self._children.get(operation)
        if child is None:
            child = self._children[operation] = self.fallbacks.labels(operation)
        child.inc()


class Outage:
    """Tracks the shared backend's availability: when to try it, when to warn."""

    def __init__(
        self,
        where: str,
        reconnect_s: float,
        metrics: StateMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._where = where
        self._reconnect_s = reconnect_s
        self._metrics = metrics
        self._clock = clock
        self.down_since: float | None = None
        self._retry_at = 0.0
        self._trying = False  # one call is trying Redis again
        self.outages = 0

    @property
    def down(self) -> bool:
        """True during an outage."""
        return self.down_since is not None

    def usable(self) -> bool:
        """May this call use Redis? During an outage, one call per interval tries it."""
        if self.down_since is None:
            return True
        if self._trying or self._clock() < self._retry_at:
            return False
        self._trying = True
        return True

    def abandoned(self) -> None:
        """The call that was trying Redis was cancelled: another may try."""
        self._trying = False

    def failed(self, exc: BaseException) -> None:
        """A Redis call failed: start (or continue) the outage."""
        now = self._clock()
        self._trying = False
        self._retry_at = now + self._reconnect_s
        if self.down_since is None:
            self.down_since = now
            self.outages += 1
            self._metrics.degraded.set(1)
            logger.warning(
                "state backend %s unreachable (%s: %s): each process now uses its own rate "
                "limits (1/processes of each budget) and circuit breakers until it answers "
                "again; retrying every %g s",
                self._where,
                type(exc).__name__,
                exc,
                self._reconnect_s,
            )

    def succeeded(self) -> None:
        """A Redis call worked: end the outage, if any."""
        if self.down_since is not None:
            logger.info(
                "state backend %s reachable again after %.1f s: limits and breakers are shared "
                "again",
                self._where,
                self._clock() - self.down_since,
            )
            self.down_since = None
            self._trying = False
            self._metrics.degraded.set(0)
