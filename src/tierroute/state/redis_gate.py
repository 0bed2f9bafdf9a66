"""A model's breaker and limits in Redis, shared by every process (see ``scripts`` for the keys).

``admit`` is one script call: the breaker and the sliding 60-second window decided together,
atomically, on Redis's clock, so N processes together never admit more than the limit in any
window. What follows an admission is written in the background: a failure count reaching the
threshold (counted per process: consecutive failures as this process saw them) or a failed
probe opens the circuit for everyone; the probe's success closes it for everyone; usage settles
the tokens reserved. A success seen while the circuit was closed writes nothing, so the happy
path costs one round trip.

When Redis cannot be used, every decision is made by the gate's ``fallback`` (a ``MemoryGate``
at 1/``processes`` of each budget), which also hears every breaker event while Redis is up so
that it starts an outage knowing what this process saw.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from tierroute.gateway.breaker import CLOSED, HALF_OPEN, OPEN
from tierroute.gateway.ratelimit import WINDOW_S
from tierroute.state import scripts
from tierroute.state.base import (
    ADMITTED,
    CIRCUIT_OPEN,
    RATE_LIMITED,
    Admission,
    GateSpec,
    ModelGate,
    Ticket,
)
from tierroute.state.memory import MemoryGate
from tierroute.state.redis_link import RedisLink, Unavailable

# A half-open circuit nobody probes is forgotten (closed) this long after its cooldown.
OPEN_KEY_LIFETIME_MS = 24 * 3600 * 1000


@dataclass(slots=True)
class RedisTicket:
    """A reservation in the Redis window: its member is ``<ident>:<tokens>``.

    ``at``: when Redis admitted it (its clock, Unix seconds).
    """

    ident: str
    tokens: int
    at: float


class RedisGate(ModelGate):
    """One model's shared breaker and limits, with a per-process fallback."""

    def __init__(
        self,
        link: RedisLink,
        ref: str,
        spec: GateSpec,
        fallback: MemoryGate,
        clock: Callable[[], float],
        window_s: float = WINDOW_S,
    ) -> None:
        tag = "{" + ref + "}"
        self._link = link
        self._open_keys = [link.key(tag, "open"), link.key(tag, "probe")]
        self._window_keys = [link.key(tag, "log"), link.key(tag, "tok")]
        self._admit_keys = self._open_keys + self._window_keys
        self._rpm = spec.rpm or 0
        self._tpm = spec.tpm or 0
        self._limited = bool(spec.rpm or spec.tpm)
        self.counts_tokens = bool(spec.tpm)
        self._threshold = spec.failure_threshold
        self._cooldown_ms = spec.cooldown * 1000.0
        self._probe_ttl_ms = max(int(spec.probe_ttl * 1000), 1)
        self.fallback = fallback
        self._clock = clock
        self._window_ms = int(window_s * 1000)
        self._failures = 0  # consecutive failures this process saw
        self._probe: str | None = None  # the id of the cluster's half-open probe, if ours
        self._open_until: float | None = None  # as last seen (clock time); None: closed
        self._writes: set[asyncio.Task[None]] = set()  # breaker changes on their way

    async def admit(self, tokens: int = 0) -> Admission:
        """One script call; the fallback's decision when Redis cannot be used."""
        link = self._link
        ident = secrets.token_hex(8)
        try:
            code, wait, probe, now = await link.run(
                link.admit,
                self._admit_keys,
                (self._rpm, self._tpm, tokens, ident, self._probe_ttl_ms, self._window_ms),
            )
        except Unavailable:
            link.metrics.fallback("admit")
            return self.fallback.admit_now(tokens)
        seconds = float(wait) / 1000.0
        if code == scripts.OK:
            if probe:
                self._probe = ident
                self._open_until = self._clock()
            else:
                self._open_until = None
            if not self._limited:
                return ADMITTED
            return Admission(None, RedisTicket(ident, tokens, scripts.EPOCH_S + float(now) / 1000))
        if code == scripts.LIMITED:
            return Admission(RATE_LIMITED, None, seconds)
        self._open_until = self._clock() + (seconds if code == scripts.OPEN else 0.0)
        return Admission(CIRCUIT_OPEN, None, seconds)

    @property
    def state(self) -> str:
        """The shared state as this process last saw it (the fallback's during an outage)."""
        if self._link.outage.down:
            return self.fallback.state
        if self._open_until is None:
            return CLOSED
        return HALF_OPEN if self._clock() >= self._open_until else OPEN

    def settle(self, ticket: Ticket, actual: int) -> None:
        """Replace the reserved tokens in the shared window (in the background)."""
        if not isinstance(ticket, RedisTicket):
            self.fallback.settle(ticket, actual)  # reserved locally during an outage
            return
        if actual == ticket.tokens:
            return
        delta = actual - ticket.tokens
        now_member = f"{ticket.ident}:{ticket.tokens}"
        ticket.tokens = actual
        args = (now_member, f"{ticket.ident}:{actual}", delta, self._window_ms)
        link = self._link
        link.spawn("settle", lambda: link.run(link.settle, self._window_keys, args))

    def record_success(self) -> None:
        """Close the circuit: for everyone if this process saw it other than closed."""
        self.fallback.record_success()
        self._failures = 0
        if self._probe is None and self._open_until is None:
            return
        self._probe = self._open_until = None
        link = self._link
        self._track(link.spawn("breaker", lambda: link.delete(self._open_keys)))

    def record_failure(self) -> None:
        """Count a failure; at the threshold, or when our probe failed, open for everyone."""
        self.fallback.record_failure()
        self._failures += 1
        if self._probe is not None or self._failures >= self._threshold:
            self._open(self._cooldown_ms)

    def release_probe(self) -> None:
        """Free our half-open probe, if we hold it (no verdict on the model)."""
        self.fallback.release_probe()
        probe, self._probe = self._probe, None
        if probe is not None:
            link = self._link
            keys = self._open_keys[1:]
            self._track(link.spawn("breaker", lambda: link.run(link.release_probe, keys, (probe,))))

    def hold_open(self, seconds: float) -> None:
        """Keep the model out of every process for ``seconds``."""
        self.fallback.hold_open(seconds)
        self._open(seconds * 1000.0)

    def _open(self, ms: float) -> None:
        until = self._clock() + ms / 1000.0
        if self._open_until is None or until > self._open_until or self._probe is not None:
            self._open_until = until
        self._probe = None
        link = self._link
        args = (f"{ms:.3f}", OPEN_KEY_LIFETIME_MS)
        self._track(
            link.spawn("breaker", lambda: link.run(link.open_circuit, self._open_keys, args))
        )

    def _track(self, task: asyncio.Task[None] | None) -> None:
        if task is not None:
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def written(self) -> None:
        """Wait for this model's breaker writes so far (bounded by the Redis timeout)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
