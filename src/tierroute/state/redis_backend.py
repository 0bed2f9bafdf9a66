"""State in Redis (``[state] url = "redis://..."``): shared by every worker and replica.

Model gates are ``RedisGate``s (one script call per decision). Canary records live in one hash
per champion/challenger pair (``<prefix>:canary:<champion>:<challenger>``: ``started_at``,
``rollback_reason``, ``rolled_back_at``; the first writer of each field wins): the ramp, a
function of the start, is the same in every process and goes on after a restart, and a rollback
by any process reaches the others within ``sync_s``. They are read at start-up and after each
reload (``sync``, before the new canary serves), then every ``sync_s`` in the background; the
request path never waits on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from prometheus_client import CollectorRegistry

from tierroute.gateway.ratelimit import WINDOW_S
from tierroute.state.base import CanaryRecord, GateSpec, ModelGate, StateBackend
from tierroute.state.memory import memory_gate
from tierroute.state.outage import StateMetrics
from tierroute.state.redis_gate import RedisGate
from tierroute.state.redis_link import RedisLink, Unavailable
from tierroute.state.settings import StateConfig

logger = logging.getLogger(__name__)

CANARY_TTL_S = 30 * 24 * 3600  # a canary record outlives any restart, not a forgotten canary
MAX_CANARIES = 16  # records kept for syncing (each reload with a new challenger adds one)


def local_share(budget: int | None, processes: int) -> int | None:
    """A process's share of a cluster-wide budget during an outage (at least 1)."""
    return None if budget is None else max(budget // processes, 1)


class RedisBackend(StateBackend):
    """Gates and canary records in Redis; per-process fallbacks while it is out."""

    shared = True

    def __init__(
        self,
        config: StateConfig,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.monotonic,
        *,
        window_s: float = WINDOW_S,
    ) -> None:
        """``window_s``: the limits' window (60 s; tests shorten it to see it slide)."""
        self.config = config
        self._window_s = window_s
        self.link = RedisLink(config, StateMetrics(registry))
        self._clock = clock
        self._canaries: dict[str, CanaryRecord] = {}
        self._sync_task: asyncio.Task[None] | None = None

    def gate(self, ref: str, spec: GateSpec) -> ModelGate:
        """A shared gate; its fallback holds 1/``processes`` of each budget."""
        n = self.config.processes
        local = replace(spec, rpm=local_share(spec.rpm, n), tpm=local_share(spec.tpm, n))
        fallback = memory_gate(local, self._clock)
        return RedisGate(self.link, ref, spec, fallback, self._clock, self._window_s)

    def canary(self, key: str, now: float) -> CanaryRecord:
        """The record of canary ``key``: started ``now``, unless a process started it before."""
        record = self._canaries.get(key)
        if record is None:
            record = new = CanaryRecord(now)

            def share_rollback() -> None:
                self.link.spawn("canary", lambda: self._sync_one(key, new))

            record.watch(share_rollback)
            self._canaries[key] = record
            while len(self._canaries) > MAX_CANARIES:
                del self._canaries[next(iter(self._canaries))]
        return record

    async def sync(self) -> None:
        """Write this process's canary news and read everyone's (one script call per canary)."""
        for key, record in list(self._canaries.items()):
            try:
                await self._sync_one(key, record)
            except Unavailable:
                self.link.metrics.fallback("canary")

    async def _sync_one(self, key: str, record: CanaryRecord) -> None:
        args = (
            repr(record.started_at),
            record.rollback_reason or "",
            repr(record.rolled_back_at or 0.0),
            CANARY_TTL_S,
        )
        started, reason, at = await self.link.run(
            self.link.canary_sync, [self.link.key("canary", key)], args
        )
        record.started_at = float(started)
        if reason and record.rollback_reason is None:
            record.rollback_reason = reason.decode("utf-8", "replace")
            record.rolled_back_at = float(at) if at else None
            logger.warning("canary %s rolled back by another process: %s", key, reason)

    @property
    def degraded(self) -> bool:
        """True during a Redis outage."""
        return self.link.outage.down

    async def start(self) -> None:
        """Check Redis (an outage is logged, not raised) and start the canary sync."""
        try:
            await self.link.ping()
            logger.info(
                "state backend: %s (prefix %r, %d processes share the limits)",
                self.config.where,
                self.config.prefix,
                self.config.processes,
            )
        except Unavailable:
            pass  # Outage logged it; requests use the per-process fallback meanwhile
        self._sync_task = asyncio.get_running_loop().create_task(self._sync_forever())

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.sync_s)
            try:
                await self.sync()
            except Exception:
                # A malformed record (written by hand?) must not end the sync for good.
                logger.exception(
                    "canary state sync failed; trying again in %g s", self.config.sync_s
                )

    async def flush(self) -> None:
        """Wait for the background writes started so far."""
        await self.link.flush()

    async def aclose(self) -> None:
        """Stop syncing, finish the background writes, close the pool."""
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
            self._sync_task = None
        await self.link.aclose()
