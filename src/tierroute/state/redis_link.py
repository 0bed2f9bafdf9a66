"""The process's one Redis connection pool, its scripts, and how a failed call degrades.

Every call goes through ``run``: when Redis is out (``Outage``) it raises ``Unavailable`` at
once, without a network call, and the caller decides locally instead. Writes that need no answer
(``spawn``) run as background tasks the link keeps, so none is lost to the garbage collector and
``flush``/``aclose`` can wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from tierroute.state import scripts
from tierroute.state.outage import Outage, StateMetrics
from tierroute.state.settings import StateConfig

logger = logging.getLogger(__name__)

# What a Redis call may raise when Redis is down, slow or refusing (redis-py wraps most socket
# errors in its own ConnectionError/TimeoutError, not all).
REDIS_ERRORS = (RedisError, OSError, TimeoutError)
CLOSE_WAIT_S = 2.0  # the longest shutdown waits for background writes


class Unavailable(Exception):
    """Redis cannot be used for this call (out, or the call failed): decide locally."""


class RedisLink:
    """The connection pool, the registered scripts and the outage state of one process."""

    def __init__(self, config: StateConfig, metrics: StateMetrics) -> None:
        self.prefix = config.prefix
        self.metrics = metrics
        # No retries inside redis-py: a failed call falls back at once, and Outage retries.
        self.client = Redis.from_url(
            config.url,
            socket_timeout=config.timeout,
            socket_connect_timeout=config.timeout,
            retry=Retry(NoBackoff(), 0),
            client_name="tierroute",
        )
        self.outage = Outage(config.where, config.reconnect_s, metrics)
        register = self.client.register_script
        self.admit: AsyncScript = register(scripts.ADMIT)
        self.settle: AsyncScript = register(scripts.SETTLE)
        self.open_circuit: AsyncScript = register(scripts.OPEN_CIRCUIT)
        self.release_probe: AsyncScript = register(scripts.RELEASE_PROBE)
        self.canary_sync: AsyncScript = register(scripts.CANARY_SYNC)
        self._tasks: set[asyncio.Task[None]] = set()

    def key(self, *parts: str) -> str:
        """``<prefix>:<part>:...``."""
        return ":".join((self.prefix, *parts))

    async def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's answer, or ``Unavailable`` (Redis out now, or this call failed)."""
        return await self._guard(lambda: script(keys=keys, args=args))

    async def delete(self, keys: Sequence[str]) -> None:
        """DEL ``keys``, or ``Unavailable``."""
        await self._guard(lambda: self.client.delete(*keys))

    async def _guard(self, call: Callable[[], Awaitable[Any]]) -> Any:
        outage = self.outage
        if not outage.usable():
            raise Unavailable
        try:
            reply = await call()
        except REDIS_ERRORS as exc:
            outage.failed(exc)
            raise Unavailable from exc
        except BaseException:
            outage.abandoned()  # cancelled: no verdict on Redis
            raise
        outage.succeeded()
        return reply

    async def ping(self) -> None:
        """Check Redis answers (start-up), or ``Unavailable``."""
        await self._guard(lambda: self.client.ping())

    def spawn(
        self, operation: str, write: Callable[[], Awaitable[object]]
    ) -> asyncio.Task[None] | None:
        """Run ``write`` in the background (its task; None without a loop).

        Counted as a fallback when Redis is out.
        """
        try:
            task = asyncio.get_running_loop().create_task(self._write(operation, write))
        except RuntimeError:  # no loop (a worker thread): the next sync carries it
            return None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _write(self, operation: str, write: Callable[[], Awaitable[object]]) -> None:
        try:
            await write()
        except Unavailable:
            self.metrics.fallback(operation)

    async def flush(self) -> None:
        """Wait for the background writes started so far."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Finish background writes (briefly: Redis may be out) and close the pool."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self.flush()
        for task in list(self._tasks):
            task.cancel()
        try:
            await self.client.aclose()
        except REDIS_ERRORS as exc:
            logger.info("closing the state backend's connections: %s", exc)
