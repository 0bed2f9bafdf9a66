"""Slowloris and huge unfinished headers against ``tierroute serve`` (issue 8, item 8).

    python benchmarks/slowloris.py [--model models] [--connections 50] [--header-mib 2]
                                   [--slow 200] [--unlimited]

Starts ``tierroute serve`` on a free loopback port with gateway keys set and the shipped
connection limits (``--unlimited``: limits so high they never trigger, i.e. uvicorn as before),
then: (1) ``--connections`` sockets each send ``--header-mib`` MiB of one unfinished header;
(2) ``--slow`` sockets dribble a header one byte every 0.5 s for the header deadline plus 3 s.
Prints the server's RSS growth, how the attackers were answered, open server sockets over time
and /healthz latency meanwhile. Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

KEY = "bench-slowloris"
CONFIG = """
[providers.none]
base_url = "http://127.0.0.1:9/v1"
[tiers.simple_faq]
models = ["none:a"]
[tiers.moderate_conv]
models = ["none:a"]
[tiers.complex_reasoning]
models = ["none:a"]
[tiers.code_gen]
models = ["none:a"]
[log]
url = "sqlite:///{directory}/log.db"
[server]
{limits}
"""
UNLIMITED = "max_header_bytes = 1099511627776\nheader_timeout = 1e6\nbody_timeout = 1e6"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


def healthz_ms(url: str) -> float:
    start = time.perf_counter()
    try:
        httpx.get(url + "/healthz", timeout=10).raise_for_status()
    except httpx.HTTPError:
        return float("inf")
    return (time.perf_counter() - start) * 1000.0


def send_all(sockets: list[socket.socket], data: bytes) -> None:
    for sock in sockets:
        try:
            sock.send(data)
        except OSError:
            continue


def outcomes(sockets: list[socket.socket], wait: float) -> dict[str, int]:
    counts: dict[str, int] = {}
    deadline = time.monotonic() + wait
    for sock in sockets:
        sock.setblocking(True)
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
            key = received[:12].decode(errors="replace") or "closed"
        except TimeoutError:
            key = "still open"
        except OSError:
            key = "reset"
        counts[key] = counts.get(key, 0) + 1
        sock.close()
    return counts


def start_server(model: str, limits: str, directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    config = directory / "slowloris.toml"
    config.write_text(CONFIG.format(directory=directory, limits=limits), encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cli = str(Path(sys.executable).with_name("tierroute"))
    command = [cli, "serve", "--config", str(config), "--model", model, "--port", str(port)]
    env = {**os.environ, "TIERROUTE_API_KEYS": KEY}
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("tierroute serve did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models", help="model directory or models root")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--header-mib", type=float, default=2.0)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--unlimited", action="store_true", help="limits that never trigger")
    args = parser.parse_args()
    limits = UNLIMITED if args.unlimited else f"header_timeout = {args.header_timeout}"
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_server(args.model, limits, Path(tmp))
        pid = process.pid
        try:
            base_rss, base_sockets = rss_mib(pid), server_sockets(pid)
            print(f"limits: {'none (--unlimited)' if args.unlimited else 'shipped defaults'}")
            print(f"idle: RSS {base_rss:.1f} MiB, {base_sockets} sockets")
            # 1. Huge unfinished headers.
            sockets = [
                socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])))
                for _ in range(args.connections)
            ]
            for sock in sockets:
                sock.setblocking(False)
            send_all(sockets, b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ")
            piece = b"a" * 65536
            peak = base_rss
            for _ in range(int(args.header_mib * 16)):
                send_all(sockets, piece)
                peak = max(peak, rss_mib(pid))
            time.sleep(0.5)
            peak = max(peak, rss_mib(pid))
            during = healthz_ms(url)
            print(
                f"{args.connections} x {args.header_mib:g} MiB headers: RSS +{peak - base_rss:.1f} MiB"
                f" (peak), /healthz {during:.1f} ms, answers {outcomes(sockets, 3.0)}"
            )
            # 2. Slowloris: one header byte every 0.5 s per connection.
            port = int(url.rsplit(":", 1)[1])
            sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(args.slow)]
            for sock in sockets:
                sock.setblocking(False)
            start = time.monotonic()
            latencies, held = [], []
            data = b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: " + b"a" * 10_000
            i = 0
            while time.monotonic() - start < min(args.header_timeout, 30.0) + 3.0:
                send_all(sockets, data[i : i + 1])
                i += 1
                latencies.append(healthz_ms(url))
                held.append((time.monotonic() - start, server_sockets(pid) - base_sockets))
                time.sleep(0.5)
            finite = [ms for ms in latencies if ms != float("inf")]
            print(
                f"{args.slow} slow connections: /healthz p50 {statistics.median(finite):.1f} ms,"
                f" max {max(finite):.1f} ms, {len(latencies) - len(finite)} failed"
            )
            print(
                "  extra server sockets over time: "
                + ", ".join(f"{t:.0f}s:{n}" for t, n in held[:: max(len(held) // 8, 1)])
            )
            print(f"  answers: {outcomes(sockets, 2.0)}; RSS {rss_mib(pid):.1f} MiB")
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()
