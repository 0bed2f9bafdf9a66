"""Latency the gateway adds, and its throughput: direct to the upstream vs through the gateway.

    python benchmarks/gateway_overhead.py [--model DIR] [--duration 5] [--delay-ms 20]

The fake upstream (tests/fakes/upstream.py) answers every chat request after a fixed delay
(20 ms). The same load generator (aiohttp, N requests in flight) measures client -> upstream
directly, then client -> gateway -> upstream with ``model="auto"`` (classification, routing,
dispatch, request log and metrics included), at concurrency 1, 16 and 64, and prints p50/p99
latency, the latency the gateway adds and requests/s; then ``/v1/classify`` requests/s. The
``relay`` row is the floor any Python gateway on this stack starts from: a bare FastAPI route
relaying bytes over a pooled aiohttp client, with no routing, log, metrics or checks. When
LiteLLM's proxy is installed (``pip install 'litellm[proxy]'``) it runs on the same upstream in
the same run, side by side.

The last column is the serving process's CPU time per request (all its threads, from
/proc): other work on the machine inflates it far less than it depresses requests/s, and
1e6 / (CPU µs per request) bounds what one worker can serve on a core of its own.

Placement on a 2-core machine: the gateway (one uvicorn worker) is pinned to CPU 0; the fake
upstream, LiteLLM and the load generator share CPU 1. Targets (issue 3): added p50 <= 1.5 ms at
c=1 and c=16, <= 10 ms at c=64, >= 1,500 requests/s per worker at c=64.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import Response

REPO = Path(__file__).resolve().parents[1]
CONCURRENCY = (1, 16, 64)
MASTER_KEY = "sk-bench-0123456789abcdef0123456789abcdef"
QUESTION = "Where is my order #4521? It was supposed to arrive yesterday and I need it for work."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpus() -> tuple[set[int], set[int]]:
    """(gateway CPUs, everything else): split when there are at least two."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return set(available), set(available)
    return {available[0]}, set(available[1:])


def spawn(
    args: Sequence[str], cpu_set: set[int], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        list(args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO
    )
    os.sched_setaffinity(process.pid, cpu_set)
    return process


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise SystemExit(f"{url}: process exited early:\n{err}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise SystemExit(f"{url}: not ready after {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Result:
    label: str
    concurrency: int
    latencies_ms: list[float]
    seconds: float
    errors: int
    server_cpu_s: float

    @property
    def cpu_us_per_request(self) -> float:
        """Server CPU per request: contention on the machine inflates it far less than req/s."""
        done = len(self.latencies_ms) + self.errors
        return self.server_cpu_s / done * 1e6 if done else float("nan")

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")


async def load(
    url: str, body: bytes, headers: dict[str, str], concurrency: int, duration: float, warmup: float
) -> tuple[list[float], float, int]:
    """Keep ``concurrency`` requests in flight for ``warmup + duration`` s; time the last part."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + duration

        async def worker() -> None:
            nonlocal errors
            while True:
                t0 = time.perf_counter()
                if t0 >= stop_at:
                    return
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                t1 = time.perf_counter()
                if t0 >= measure_from:
                    if ok:
                        latencies.append((t1 - t0) * 1000.0)
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        measured = time.perf_counter() - measure_from
    return latencies, measured, errors


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(
    label: str, url: str, payload: bytes, concurrency: int, duration: float, pid: int | None
) -> Result:
    """Warm up for a second, then measure latency, requests/s and the server's CPU per request."""
    # The gateway runs without keys and the fake ignores them; LiteLLM wants its master key.
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {MASTER_KEY}"}
    asyncio.run(load(url, payload, headers, concurrency, 1.0, warmup=0.0))
    cpu_before = process_cpu_s(pid) if pid else 0.0
    latencies, seconds, errors = asyncio.run(
        load(url, payload, headers, concurrency, duration, warmup=0.0)
    )
    cpu = process_cpu_s(pid) - cpu_before if pid else float("nan")
    return Result(label, concurrency, latencies, seconds, errors, cpu)


def gateway_config(directory: Path, upstream: str) -> Path:
    text = textwrap.dedent(
        f"""
        [routing]
        default_tier = "moderate_conv"
        [providers.bench]
        base_url = "{upstream}"
        [tiers.simple_faq]
        models = ["bench:gemini-2.5-flash", "bench:deepseek-v3.2"]
        max_tokens = 512
        [tiers.moderate_conv]
        models = ["bench:claude-sonnet-4.5", "bench:gpt-4.1"]
        max_tokens = 2048
        [tiers.complex_reasoning]
        models = ["bench:gpt-4.1", "bench:claude-sonnet-4.5"]
        max_tokens = 4096
        [tiers.code_gen]
        models = ["bench:deepseek-v3.2", "bench:gpt-4.1"]
        max_tokens = 2048
        [log]
        url = "sqlite:///{directory / "bench-log.db"}"
        store_text = true
        """
    )
    path = directory / "bench.toml"
    path.write_text(text, encoding="utf-8")
    return path


def serve_gateway(config: str, model: str, port: int) -> None:
    """Subprocess entry: exactly what ``tierroute serve`` runs (one uvicorn worker)."""
    import logging

    from tierroute.service.server import run

    logging.basicConfig(level=logging.WARNING)
    run(Path(config), Path(model), "127.0.0.1", port)


def serve_passthrough(upstream: str, port: int) -> None:
    """Subprocess entry: the floor, a FastAPI route relaying bytes over one pooled aiohttp client.

    No routing, logging, metrics, retries or checks: what uvicorn + FastAPI + aiohttp cost alone.
    """
    import uvicorn

    url = upstream + "/chat/completions"
    sessions: list[aiohttp.ClientSession] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)))
        yield
        await sessions[0].close()

    app = FastAPI(lifespan=lifespan, telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.post("/v1/chat/completions")
    async def relay(request: Request) -> Response:
        body = await request.body()
        headers = {"Content-Type": "application/json"}
        async with sessions[0].post(url, data=body, headers=headers) as upstream_response:
            raw = await upstream_response.read()
        return Response(raw, status_code=upstream_response.status, media_type="application/json")

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def litellm_config(directory: Path, upstream: str) -> Path:
    text = textwrap.dedent(
        f"""
        model_list:
          - model_name: auto
            litellm_params:
              model: openai/gemini-2.5-flash
              api_base: {upstream}
              api_key: unused
        general_settings:
          master_key: {MASTER_KEY}
        litellm_settings:
          telemetry: false
        """
    )
    path = directory / "litellm.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model dir or models root (default: champion)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per level")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="upstream answer delay")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per level (medians shown)")
    parser.add_argument(
        "--litellm",
        default=shutil.which("litellm"),
        help="LiteLLM proxy executable (default: `litellm` on PATH; absent: skipped)",
    )
    parser.add_argument(
        "--serve-passthrough", nargs=2, metavar=("UPSTREAM", "PORT"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--serve-gateway", nargs=3, metavar=("CONFIG", "MODEL", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_passthrough:
        upstream_url, port = args.serve_passthrough
        serve_passthrough(upstream_url, int(port))
        return
    if args.serve_gateway:
        config, model, port = args.serve_gateway
        serve_gateway(config, model, int(port))
        return

    if args.model is None:
        from tierroute.classifier.bootstrap import ensure_champion
        from tierroute.config import get_settings

        settings = get_settings()
        args.model = ensure_champion(settings.models_dir, settings.data_dir)
    gateway_cpus, other_cpus = cpus()
    os.sched_setaffinity(0, other_cpus)
    workdir = Path(tempfile.mkdtemp(prefix="tierroute-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        upstream_port = free_port()
        processes.append(
            spawn(
                [sys.executable, str(REPO / "tests/fakes/upstream.py"), "--port", str(upstream_port),
                 "--delay-ms", str(args.delay_ms)],
                other_cpus,
            )
        )  # fmt: skip
        upstream = f"http://127.0.0.1:{upstream_port}/v1"
        wait_ready(upstream + "/models", processes[-1])

        gateway_port = free_port()
        env = {**os.environ}
        env.pop("TIERROUTE_API_KEYS", None)
        processes.append(
            spawn(
                [sys.executable, __file__, "--serve-gateway",
                 str(gateway_config(workdir, upstream)), str(args.model), str(gateway_port)],
                gateway_cpus,
                env,
            )
        )  # fmt: skip
        gateway = f"http://127.0.0.1:{gateway_port}"
        wait_ready(gateway + "/readyz", processes[-1])

        relay_port = free_port()
        processes.append(
            spawn(
                [sys.executable, __file__, "--serve-passthrough", upstream, str(relay_port)],
                gateway_cpus,
            )
        )
        relay = f"http://127.0.0.1:{relay_port}"
        wait_ready(relay + "/readyz", processes[-1])
        targets = [
            ("direct", upstream + "/chat/completions", processes[0].pid),
            ("tierroute", gateway + "/v1/chat/completions", processes[1].pid),
            ("relay", relay + "/v1/chat/completions", processes[2].pid),
        ]
        if args.litellm:
            lite = litellm_config(workdir, upstream)
            lite_port = free_port()
            processes.append(
                spawn(
                    [args.litellm, "--config", str(lite), "--port", str(lite_port),
                     "--num_workers", "1"],
                    gateway_cpus,
                )
            )  # fmt: skip
            wait_ready(
                f"http://127.0.0.1:{lite_port}/health/liveliness", processes[-1], timeout=180
            )
            targets.append(
                ("litellm", f"http://127.0.0.1:{lite_port}/v1/chat/completions", processes[-1].pid)
            )
        else:
            print("LiteLLM proxy not installed (pip install 'litellm[proxy]'): skipped")

        import orjson

        chat = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": QUESTION}]})
        print(
            f"upstream delay {args.delay_ms:g} ms, {args.duration:g} s x {args.rounds} rounds per "
            f"level (medians), gateway on CPU "
            f"{sorted(gateway_cpus)}, load + upstream on CPU {sorted(other_cpus)}, "
            f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f} "
            "(other work on the machine skews the figures)"
        )
        print(
            f"{'target':<10} {'c':>3} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} "
            f"{'req/s':>8} {'errors':>6} {'server CPU µs/req':>18}"
        )
        for concurrency in CONCURRENCY:
            # Rounds interleave the targets so they share the machine's conditions; each figure
            # is the median over rounds, which shrugs off one round disturbed by other work.
            rounds: dict[str, list[Result]] = {label: [] for label, _, _ in targets}
            for _ in range(args.rounds):
                for label, url, pid in targets:
                    rounds[label].append(
                        run_load(label, url, chat, concurrency, args.duration, pid)
                    )
            base_p50 = median(r.pct(0.5) for r in rounds["direct"])
            base_p99 = median(r.pct(0.99) for r in rounds["direct"])
            for label, results in rounds.items():
                p50 = median(r.pct(0.5) for r in results)
                p99 = median(r.pct(0.99) for r in results)
                print(
                    f"{label:<10} {concurrency:>3} {p50:>8.2f} {p99:>8.2f} {p50 - base_p50:>8.2f} "
                    f"{p99 - base_p99:>8.2f} {median(r.rps for r in results):>8.0f} "
                    f"{sum(r.errors for r in results):>6} "
                    f"{median(r.cpu_us_per_request for r in results):>18.0f}"
                )
        classify = orjson.dumps({"text": QUESTION})
        for concurrency in (1, 16):
            result = run_load(
                "classify", gateway + "/v1/classify", classify, concurrency, args.duration,
                processes[1].pid,
            )  # fmt: skip
            print(
                f"/v1/classify c={concurrency}: {result.rps:,.0f} requests/s, "
                f"p50 {result.pct(0.5):.2f} ms, p99 {result.pct(0.99):.2f} ms, "
                f"errors {result.errors}, gateway CPU {result.cpu_us_per_request:.0f} µs/request"
            )
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
