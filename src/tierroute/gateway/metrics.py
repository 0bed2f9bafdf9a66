"""Prometheus metrics of the gateway, on a registry passed in (tests) or the module's own.

Counters and histograms have a fixed size whatever the traffic (the original write-up kept
per-request metrics in a list that grew without end). Label children are cached so the hot path
is a dict lookup and an increment. Circuit states are read at scrape time, not per request.

Who records what: the dispatcher records attempts, failovers, upstream latency, tokens and cost;
the service records requests, total latency and classification latency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# Seconds: from sub-millisecond classification to minute-long generations.
_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
_STATE_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0}

REGISTRY = CollectorRegistry()
"""The module's own registry, used when none is passed in; tests may read it."""


class _BreakerCollector(Collector):
    def __init__(self, states: Callable[[], Mapping[str, str]]) -> None:
        self._states = states

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "tierroute_circuit_state",
            "Circuit breaker state per model: 0 closed, 1 half-open, 2 open.",
            labels=["model"],
        )
        for model, state in self._states().items():
            family.add_metric([model], _STATE_VALUE.get(state, 0.0))
        yield family


class GatewayMetrics:
    """The gateway's counters and histograms, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else REGISTRY
        r = self.registry
        self.requests = Counter(
            "tierroute_requests",
            "Requests answered, by tier, model and HTTP status.",
            ["tier", "model", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "tierroute_request_seconds",
            "Total time in the gateway per request, by tier.",
            ["tier"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.classification_seconds = Histogram(
            "tierroute_classification_seconds",
            "Time to classify a query.",
            buckets=_BUCKETS,
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "tierroute_upstream_seconds",
            "Upstream time of answered calls (retries and waits included), by model.",
            ["model"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.attempts = Counter(
            "tierroute_upstream_attempts",
            "Upstream attempts by model and outcome.",
            ["model", "outcome"],
            registry=r,
        )
        self.failovers = Counter(
            "tierroute_failovers",
            "Times a model was left for the next one of its chain.",
            ["model"],
            registry=r,
        )
        self.tokens = Counter(
            "tierroute_tokens",
            "Tokens reported by providers, by model and kind.",
            ["model", "kind"],
            registry=r,
        )
        self.cost_usd = Counter(
            "tierroute_cost_usd", "Cost in USD by model.", ["model"], registry=r
        )
        self._attempt_children: dict[tuple[str, str], Counter] = {}
        self._request_children: dict[tuple[str, str, str], Counter] = {}
        self._model_children: dict[str, tuple[Histogram, Counter, Counter, Counter]] = {}
        self._collector: _BreakerCollector | None = None

    def watch_breakers(self, states: Callable[[], Mapping[str, str]]) -> None:
        """Export circuit states (model -> state) read at scrape time."""
        if self._collector is not None:
            self.registry.unregister(self._collector)
        self._collector = _BreakerCollector(states)
        self.registry.register(self._collector)

    def unwatch_breakers(self) -> None:
        """Stop exporting circuit states (the dispatcher closed)."""
        if self._collector is not None:
            self.registry.unregister(self._collector)
            self._collector = None

    def attempt(self, model: str, outcome: str) -> None:
        """Count one upstream attempt."""
        key = (model, outcome)
        child = self._attempt_children.get(key)
        if child is None:
            child = self._attempt_children[key] = self.attempts.labels(model, outcome)
        child.inc()

    def failover(self, model: str) -> None:
        """Count leaving ``model`` for the next of the chain."""
        self.failovers.labels(model).inc()

    def completed(
        self,
        model: str,
        upstream_s: float,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
    ) -> None:
        """Record a finished upstream call: latency, tokens and cost."""
        children = self._model_children.get(model)
        if children is None:
            children = self._model_children[model] = (
                self.upstream_seconds.labels(model),
                self.tokens.labels(model, "prompt"),
                self.tokens.labels(model, "completion"),
                self.cost_usd.labels(model),
            )
        seconds, prompt, completion, cost = children
        seconds.observe(upstream_s)
        if prompt_tokens:
            prompt.inc(prompt_tokens)
        if completion_tokens:
            completion.inc(completion_tokens)
        if cost_usd:
            cost.inc(cost_usd)

    def request(self, tier: str, model: str, status: int, total_s: float) -> None:
        """Record one answered request (the service calls this)."""
        key = (tier, model, str(status))
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(*key)
        child.inc()
        self.request_seconds.labels(tier).observe(total_s)

    def classified(self, seconds: float) -> None:
        """Record one classification's latency."""
        self.classification_seconds.observe(seconds)


_default: GatewayMetrics | None = None


def default_metrics() -> GatewayMetrics:
    """The process's metrics on the module registry, created on first use."""
    global _default
    if _default is None:
        _default = GatewayMetrics(REGISTRY)
    return _default
