"""The service's prometheus metrics: the gateway's (``GatewayMetrics``) plus the service's own.

``GatewayMetrics`` (tierroute.gateway.metrics) holds requests by tier/model/status, total,
upstream and classification latency, attempts, failovers, tokens and cost; the dispatcher and
the chat route record into it. The service adds the overhead histogram (time the gateway adds to
a chat request), the request-log backlog and the log writer's row counters
(``tierroute_log_rows_{written,spooled,replayed,dead_lettered,dropped}_total``). Each app has its own registry, so tests can run
several apps in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

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

    def watch_log_writer(self, writer: Any) -> None:
        """Export the writer's row counters (read at scrape time; the writer keeps the counts)."""
        self.registry.register(_LogRowCounters(writer))


_LOG_COUNTERS = {
    "written": "Request-log rows stored in the database from the queue.",
    "spooled": "Request-log rows written to the spool (database unreachable or queue full).",
    "replayed": "Spooled request-log rows stored in the database later.",
    "dead_lettered": "Request-log rows the database refused, kept in the dead-letter file.",
    "dropped": "Request-log rows lost (no spool or dead-letter file could take them).",
}


class _LogRowCounters(Collector):
    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def collect(self) -> Iterator[CounterMetricFamily]:
        for name, documentation in _LOG_COUNTERS.items():
            yield CounterMetricFamily(
                f"tierroute_log_rows_{name}", documentation, value=getattr(self.writer, name)
            )
