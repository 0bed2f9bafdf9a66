"""What the gateway and the service ask of a state backend, whatever holds the state.

Per configured model, a ``ModelGate``: its circuit breaker and its rpm/tpm limits, asked once
per attempt (``admit``: one decision, on Redis one round trip) and told what happened
(``record_success``, ``record_failure``, ``hold_open``, ``release_probe``; ``settle`` and
``release`` for the tokens reserved). Per canary, a ``CanaryRecord``: when its ramp started and
whether it was rolled back. A ``StateBackend`` makes both: ``memory`` in the process,
``redis`` shared by every process pointed at the same Redis.

Only the admission is awaited: what happens after it (the breaker's verdict, the usage that
replaces an estimate) is applied to the process's own view at once and written to the shared
state in the background, so it never adds a round trip to a request.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from tierroute.gateway.attempt import CIRCUIT_OPEN, RATE_LIMITED

__all__ = [
    "CIRCUIT_OPEN",
    "RATE_LIMITED",
    "Admission",
    "CanaryRecord",
    "GateSpec",
    "ModelGate",
    "StateBackend",
    "Ticket",
]


class Ticket(Protocol):
    """A reservation in a model's rate-limit window (opaque to the caller but for its tokens)."""

    @property
    def tokens(self) -> int:
        """Tokens it holds in the window now."""


@dataclass(slots=True, frozen=True)
class Admission:
    """The answer of ``ModelGate.admit``.

    ``refused`` is None (go; ``ticket`` holds the reservation when the model has limits),
    ``CIRCUIT_OPEN`` or ``RATE_LIMITED``, with ``retry_in`` seconds until it may change.
    """

    refused: str | None = None
    ticket: Ticket | None = None
    retry_in: float = 0.0


ADMITTED = Admission()


@dataclass(slots=True, frozen=True)
class GateSpec:
    """What a model's gate enforces: its limits (None: unlimited) and its breaker's policy.

    ``probe_ttl``: the longest a half-open probe may take (a probe whose process died frees the
    model after it).
    """

    rpm: int | None
    tpm: int | None
    failure_threshold: int
    cooldown: float
    probe_ttl: float


class ModelGate(ABC):
    """One model's circuit breaker and rate limits."""

    counts_tokens: bool = False  # a tpm limit applies: ``admit`` wants the estimated tokens

    @abstractmethod
    async def admit(self, tokens: int = 0) -> Admission:
        """Breaker and limits together: nothing is taken unless the model may be called now.

        A refusal takes no request slot, no tokens and no half-open probe.
        """

    @property
    @abstractmethod
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open``, as this process last saw it."""

    @abstractmethod
    def settle(self, ticket: Ticket, actual: int) -> None:
        """Replace the tokens reserved by the reported (or estimated) usage."""

    def release(self, ticket: Ticket) -> None:
        """Give back the tokens of an attempt that failed (its request slot stays used)."""
        self.settle(ticket, 0)

    @abstractmethod
    def record_success(self) -> None:
        """The model answered: close the circuit."""

    @abstractmethod
    def record_failure(self) -> None:
        """The model failed: count it; open the circuit at the threshold or on a failed probe."""

    @abstractmethod
    def release_probe(self) -> None:
        """The attempt ended without a verdict on the model's health (frees a half-open probe)."""

    @abstractmethod
    def hold_open(self, seconds: float) -> None:
        """Keep the model out for ``seconds`` (a long Retry-After), then probe it again."""

    async def written(self) -> None:
        """Wait until the breaker changes made so far are shared (after a failed attempt, so a
        circuit it opened is open everywhere before its request is answered)."""
        return None  # nothing to wait for in the process


class CanaryRecord:
    """The shared part of a canary: when its ramp started, and its rollback (reason, time).

    Times are read from the canary controller's clock (wall time when shared: the start is
    compared across processes and machines). ``rollback`` is kept by the first caller.
    """

    __slots__ = ("_on_change", "rollback_reason", "rolled_back_at", "started_at")

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at
        self.rollback_reason: str | None = None
        self.rolled_back_at: float | None = None
        self._on_change: Callable[[], None] | None = None

    def rollback(self, reason: str, at: float) -> None:
        """Record a rollback (if none yet) and tell the backend, which shares it."""
        if self.rollback_reason is None:
            self.rollback_reason, self.rolled_back_at = reason, at
            if self._on_change is not None:
                self._on_change()

    def watch(self, on_change: Callable[[], None]) -> None:
        """Call ``on_change`` when this process rolls the canary back (the backend's hook)."""
        self._on_change = on_change


class StateBackend(ABC):
    """Makes model gates and canary records; one per process (it owns the connection pool)."""

    shared: bool = False  # state seen by other processes (Redis)

    @abstractmethod
    def gate(self, ref: str, spec: GateSpec) -> ModelGate:
        """The gate of model ``ref``."""

    @abstractmethod
    def canary(self, key: str, now: float) -> CanaryRecord:
        """The record of the canary ``key`` (champion and challenger), started ``now`` if new.

        Safe to call from a worker thread (``load_rollout`` runs in one).
        """

    async def sync(self) -> None:
        """Read the shared canary records now (start-up and reload call it before serving)."""
        return None  # nothing to do in the process

    @property
    def degraded(self) -> bool:
        """True while the shared state cannot be reached (per-process fallback in use)."""
        return False

    async def start(self) -> None:
        """Connect (a failure here is an outage, not an error: requests still go)."""
        return None  # nothing to do in the process

    async def flush(self) -> None:
        """Wait until every background write made so far is done (tests, shutdown)."""
        return None  # nothing to do in the process

    async def aclose(self) -> None:
        """Finish background writes and close the connection pool."""
        return None  # nothing to do in the process
