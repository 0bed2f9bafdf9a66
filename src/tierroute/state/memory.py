"""State in the process (``[state] url = "memory://"``): one ``serve`` process, today's behaviour.

A ``MemoryGate`` is the gateway's circuit breaker (``gateway.breaker``) and sliding-window limiter
(``gateway.ratelimit``) of one model, asked in the order the dispatcher always asked them. The
Redis backend also keeps one per model: the per-process fallback used while Redis is out.
"""

from __future__ import annotations

from collections.abc import Callable

from tierroute.gateway.breaker import CircuitBreaker
from tierroute.gateway.ratelimit import ModelLimiter, Reservation
from tierroute.state.base import (
    ADMITTED,
    CIRCUIT_OPEN,
    RATE_LIMITED,
    Admission,
    CanaryRecord,
    GateSpec,
    ModelGate,
    StateBackend,
    Ticket,
)


class MemoryGate(ModelGate):
    """A model's breaker and limits, held in this process."""

    __slots__ = ("breaker", "counts_tokens", "limiter")

    def __init__(self, breaker: CircuitBreaker, limiter: ModelLimiter | None) -> None:
        self.breaker = breaker
        self.limiter = limiter
        self.counts_tokens = limiter is not None and limiter.counts_tokens

    async def admit(self, tokens: int = 0) -> Admission:
        """Breaker first, then limits; a limited model gives its probe back."""
        return self.admit_now(tokens)

    def admit_now(self, tokens: int = 0) -> Admission:
        """``admit`` without awaiting (the Redis gate's fallback calls it inline)."""
        breaker = self.breaker
        if not breaker.allow():
            return Admission(CIRCUIT_OPEN, None, breaker.retry_in())
        limiter = self.limiter
        if limiter is None:
            return ADMITTED
        reservation = limiter.try_acquire(tokens)
        if reservation is None:
            breaker.release()
            return Admission(RATE_LIMITED, None, limiter.retry_in())
        return Admission(None, reservation)

    @property
    def state(self) -> str:
        """The breaker's state."""
        return self.breaker.state

    def settle(self, ticket: Ticket, actual: int) -> None:
        """Settle a reservation of this gate's limiter."""
        if self.limiter is not None and isinstance(ticket, Reservation):
            self.limiter.settle(ticket, actual)

    def record_success(self) -> None:
        """Close the circuit."""
        self.breaker.record_success()

    def record_failure(self) -> None:
        """Count a failure."""
        self.breaker.record_failure()

    def release_probe(self) -> None:
        """No verdict: a half-open probe may go again."""
        self.breaker.release()

    def hold_open(self, seconds: float) -> None:
        """Keep the circuit open for ``seconds``."""
        self.breaker.hold_open(seconds)


def memory_gate(spec: GateSpec, clock: Callable[[], float]) -> MemoryGate:
    """A gate with a fresh breaker, and a limiter when ``rpm`` or ``tpm`` is set."""
    limiter = ModelLimiter(spec.rpm, spec.tpm, clock) if spec.rpm or spec.tpm else None
    return MemoryGate(CircuitBreaker(spec.failure_threshold, spec.cooldown, clock), limiter)


class MemoryBackend(StateBackend):
    """Everything in this process: nothing shared, nothing survives a restart."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def gate(self, ref: str, spec: GateSpec) -> ModelGate:
        """A gate in this process (``spec.probe_ttl`` does not matter here)."""
        return memory_gate(spec, self._clock)

    def canary(self, key: str, now: float) -> CanaryRecord:
        """A new record: a canary's ramp starts when its controller is created."""
        return CanaryRecord(now)
