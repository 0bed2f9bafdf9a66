"""``open_backend``: the state backend named by ``[state] url``."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from tierroute.state.base import StateBackend
from tierroute.state.memory import MemoryBackend
from tierroute.state.redis_backend import RedisBackend
from tierroute.state.settings import StateConfig


def open_backend(
    config: StateConfig,
    *,
    registry: CollectorRegistry,
    clock: Callable[[], float] = time.monotonic,
) -> StateBackend:
    """The configured backend (not connected yet: ``await backend.start()``).

    ``registry`` receives the Redis backend's metrics; ``clock`` drives the in-process breakers
    and limits (the memory backend's, the Redis backend's fallbacks).
    """
    if not config.shared:
        return MemoryBackend(clock)
    return RedisBackend(config, registry, clock)
