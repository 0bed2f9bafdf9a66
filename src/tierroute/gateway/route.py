"""``Route``: one configured model resolved for calling (URL, timeouts, gate, price).

A value object of its own module so that ``calls`` and ``streaming`` both use it without importing
each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from tierroute.gateway.costs import Price
from tierroute.state.base import ModelGate


@dataclass(slots=True, eq=False)
class Route:
    """Everything needed to call one configured model, resolved once."""

    ref: str  # "provider:model"
    provider: str
    model: str  # the name the provider expects
    url: str
    key_env: str | None
    read_timeout: float
    timeout: aiohttp.ClientTimeout  # streams: connect, pool, first byte and between chunks
    answer_timeout: aiohttp.ClientTimeout  # non-streamed: connect and pool only (see config)
    gate: ModelGate  # its circuit breaker and rate limits (tierroute.state)
    price: Price | None
    extra_headers: Mapping[str, str]
    max_tokens_field: str | None = None  # rename the answer cap to this parameter
    headers: dict[str, str] | None = None  # None until start(), or when the key is missing
    secrets: tuple[str, ...] = ()
