"""The service's prometheus metrics: the gateway's (``GatewayMetrics``) plus the service's own.

``GatewayMetrics`` (tierroute.gateway.metrics) holds requests by tier/model/status, total,
upstream and classification latency, attempts, failovers, tokens and cost; the dispatcher and
the chat route record into it. The service adds the overhead histogram (time the gateway adds to
a chat request) and the request-log backlog. Each app has its own registry, so tests can run
several apps in one process.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge, Histogram

from tierroute.gateway.metrics import GatewayMetrics

OVERHEAD_BUCKETS = (0.0002, 0.0005, 0.001, 0.0015, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)


class ServiceMetrics:
    """Everything ``/metrics`` exports for one app."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.gateway = GatewayMetrics(self.registry)
        self.overhead = Histogram(
            "tierroute_overhead_seconds",
            "Time the gateway adds to a chat request (total minus waiting on the provider).",
            buckets=OVERHEAD_BUCKETS,
            registry=self.registry,
        )
        self.log_backlog = Gauge(
            "tierroute_log_backlog",
            "Request-log rows queued and not yet written.",
            registry=self.registry,
        )

    def watch_log_backlog(self, backlog: Callable[[], float]) -> None:
        """Read the writer's backlog at scrape time."""
        self.log_backlog.set_function(backlog)
