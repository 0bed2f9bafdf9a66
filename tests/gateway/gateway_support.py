"""Helpers for the gateway tests: a config builder, a manual clock, a dispatcher harness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from tierroute.config import GatewayConfig
from tierroute.gateway.dispatch import Dispatcher

KEY_ENV = "FAKE_PROVIDER_KEY"
KEY = "sk-test-a1b2c3d4e5f6g7h8i9j0"
BODY: dict[str, Any] = {
    "model": "auto",
    "messages": [{"role": "user", "content": "Where is my order?"}],
}


class ManualClock:
    """A monotonic clock that moves only when told."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    """A started dispatcher and what it was given."""

    dispatcher: Dispatcher
    config: GatewayConfig
    registry: CollectorRegistry
    clock: Callable[[], float]
    delays: list[float] = field(default_factory=list)

    def metric(self, name: str, **labels: str) -> float:
        """A sample's value from the dispatcher's registry (0.0 when absent)."""
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def make_config(base_url: str, **sections: Any) -> GatewayConfig:
    """One provider ``fake`` at ``base_url``; tier ``moderate_conv`` = fake:a, fake:b, fake:c."""
    data: dict[str, Any] = {
        "providers": {"fake": {"base_url": base_url, "api_key_env": KEY_ENV, "read_timeout": 5.0}},
        "tiers": {"moderate_conv": {"models": ["fake:a", "fake:b", "fake:c"], "max_tokens": 256}},
        "retry": {"attempts_per_model": 2, "backoff_base": 0.1, "backoff_cap": 0.4},
        "prices": {
            "fake:a": {"input": 1.0, "output": 10.0},
            "fake:b": {"input": 2.0, "output": 20.0},
            "fake:c": {"input": 3.0, "output": 30.0},
        },
    }
    for key, value in sections.items():
        # Sections of settings (providers, retry) are merged; tables of models are replaced.
        if isinstance(value, dict) and key in ("providers", "retry"):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return GatewayConfig(**data)


MakeHarness = Callable[..., Awaitable[Harness]]
CHAIN = ("fake:a", "fake:b", "fake:c")
