"""Redis for the shared-state tests: the server at 127.0.0.1:6379 (a key prefix per test, its
keys deleted after), and private ``redis-server`` processes for the outage tests.

Tests skip when Redis is absent, never when ``CI=true`` (``.ci/run`` starts it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from tests.support.pg_instance import free_port
from tierroute.state.redis_backend import RedisBackend
from tierroute.state.settings import StateConfig

REDIS_URL = "redis://127.0.0.1:6379/0"


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: .ci/run must provide it)")
    pytest.skip(reason)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the Redis at 6379; its keys are deleted after."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        _skip_or_fail(f"Redis at 127.0.0.1:6379 unreachable: {exc}")
    prefix = f"tierroute-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


MakeBackend = Callable[..., Awaitable[RedisBackend]]


@pytest.fixture
async def make_backend(redis_prefix: str) -> AsyncIterator[MakeBackend]:
    """Started Redis backends under the test's prefix (as separate processes would have them).

    Keyword arguments go to ``StateConfig`` (``url``, ``processes``...) and, for ``registry``,
    ``window_s`` and ``clock``, to the backend. All are closed after the test.
    """
    made: list[RedisBackend] = []

    async def make(**options: Any) -> RedisBackend:
        extra = {k: options.pop(k) for k in ("window_s", "clock") if k in options}
        registry = options.pop("registry", None) or CollectorRegistry()
        options.setdefault("url", REDIS_URL)
        options.setdefault("prefix", redis_prefix)
        backend = RedisBackend(StateConfig(**options), registry, **extra)
        await backend.start()
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


class PrivateRedis:
    """A ``redis-server`` of the test's own on a free port, to kill and bring back."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _skip_or_fail("redis-server is not installed")
        self.binary = str(binary)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """Kill it (SIGKILL: no goodbye to the clients)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A private Redis, not started yet; killed after the test."""
    server = PrivateRedis()
    try:
        yield server
    finally:
        server.kill()
