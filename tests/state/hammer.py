"""Another process asking a shared limit as fast as it can: prints the admission times (JSON).

``python -m tests.state.hammer PREFIX RPM WINDOW_S SECONDS``: 8 concurrent callers on the Redis
at 6379 for SECONDS, one model ``m`` limited to RPM per WINDOW_S.
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson
from prometheus_client import CollectorRegistry

from tierroute.state.base import GateSpec
from tierroute.state.redis_backend import RedisBackend
from tierroute.state.redis_gate import RedisTicket
from tierroute.state.settings import StateConfig

REDIS_URL = "redis://127.0.0.1:6379/0"


async def hammer(prefix: str, rpm: int, window_s: float, seconds: float) -> list[float]:
    """Admission times (Redis clock) of every call this process was admitted."""
    backend = RedisBackend(
        StateConfig(url=REDIS_URL, prefix=prefix), CollectorRegistry(), window_s=window_s
    )
    await backend.start()
    gate = backend.gate("m", GateSpec(rpm, None, failure_threshold=5, cooldown=1, probe_ttl=5))
    admitted: list[float] = []
    end = time.monotonic() + seconds

    async def caller() -> None:
        while time.monotonic() < end:
            admission = await gate.admit()
            if isinstance(admission.ticket, RedisTicket):
                admitted.append(admission.ticket.at)
            else:
                await asyncio.sleep(0.002)

    await asyncio.gather(*(caller() for _ in range(8)))
    assert not backend.degraded
    await backend.aclose()
    return admitted


def main() -> None:
    prefix, rpm, window_s, seconds = sys.argv[1:5]
    ats = asyncio.run(hammer(prefix, int(rpm), float(window_s), float(seconds)))
    sys.stdout.write(orjson.dumps(ats).decode())


if __name__ == "__main__":
    main()
