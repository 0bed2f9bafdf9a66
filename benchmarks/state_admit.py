"""What one rate-limit and breaker decision costs: the memory backend vs Redis.

    python benchmarks/state_admit.py [--url redis://127.0.0.1:6379/0] [--seconds 2]

Calls ``ModelGate.admit`` (the one decision per upstream attempt: breaker, then the rpm/tpm
window) on a model with a limit too high to refuse, from 1 and from 16 concurrent callers in one
event loop, and prints the median and p99 wall time per decision, decisions per second, and the
process CPU time per decision. With Redis this is one EVALSHA round trip to the local server;
the gateway pays it once per attempt (settling the tokens afterwards is a background write).
Keys go under a fresh prefix, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import redis
from prometheus_client import CollectorRegistry

from tierroute.state.backends import open_backend
from tierroute.state.base import GateSpec, ModelGate
from tierroute.state.settings import StateConfig

SPEC = GateSpec(rpm=10**9, tpm=10**12, failure_threshold=5, cooldown=30.0, probe_ttl=60.0)


async def measure(gate: ModelGate, callers: int, seconds: float) -> tuple[list[float], float]:
    """Per-decision wall times (s) and CPU seconds, ``callers`` at once for ``seconds``."""
    times: list[float] = []
    end = time.monotonic() + seconds

    async def caller() -> None:
        while time.monotonic() < end:
            t0 = time.perf_counter()
            admission = await gate.admit(100)
            times.append(time.perf_counter() - t0)
            assert admission.refused is None

    cpu = time.process_time()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return times, time.process_time() - cpu


async def run(url: str, seconds: float) -> None:
    prefix = f"tierroute-bench-{uuid.uuid4().hex[:8]}"
    print(f"{'backend':8} {'c':>3} {'p50 µs':>8} {'p99 µs':>8} {'decisions/s':>12} {'CPU µs':>7}")
    for name, state_url in (("memory", "memory://"), ("redis", url)):
        backend = open_backend(
            StateConfig(url=state_url, prefix=prefix), registry=CollectorRegistry()
        )
        await backend.start()
        gate = backend.gate("bench:model", SPEC)
        await measure(gate, 4, 0.2)  # warm up (script loaded, connections open)
        for callers in (1, 16):
            times, cpu = await measure(gate, callers, seconds)
            times.sort()
            p50 = statistics.median(times) * 1e6
            p99 = times[int(len(times) * 0.99)] * 1e6
            rate = len(times) / seconds
            print(
                f"{name:8} {callers:>3} {p50:>8.0f} {p99:>8.0f} {rate:>12,.0f} "
                f"{cpu / len(times) * 1e6:>7.0f}"
            )
        assert not backend.degraded, "Redis unreachable: the figures would be the fallback's"
        await backend.aclose()
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    asyncio.run(run(args.url, args.seconds))


if __name__ == "__main__":
    main()
