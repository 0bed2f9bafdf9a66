"""Issue 8, item 8: ``tierroute serve`` bounds what a connection can hold before any key check.

A real ``tierroute serve`` process (its uvicorn limits set from the config by ``serve``) gets
a slowloris: connections sending huge unfinished headers, connections dribbling headers a byte
at a time, a body that never finishes. Its memory and open connections stay bounded, the
attackers are cut off by size or deadline, and normal requests are served all along.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live import write_config

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

KEY = "k-limits"
LIMITS = """
[server]
max_header_bytes = 16384
header_timeout = 1.5
body_timeout = 1.5
keep_alive_timeout = 2
limit_concurrency = 400
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _sockets(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


class Served:
    def __init__(self, process: subprocess.Popen[bytes], url: str, port: int) -> None:
        self.process, self.url, self.port = process, url, port

    def healthz_ms(self) -> float:
        start = time.perf_counter()
        response = httpx.get(self.url + "/healthz", timeout=5)
        assert response.status_code == 200
        return (time.perf_counter() - start) * 1000.0

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.setblocking(False)
        return sock


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, small_models_dir: Path) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("limits")
    config = write_config(directory, "http://127.0.0.1:9/v1", extra=textwrap.dedent(LIMITS))
    port = _free_port()
    env = {**os.environ, "TIERROUTE_API_KEYS": KEY}
    env.pop("TIERROUTE_ADMIN_KEY", None)
    cli = str(Path(sys.executable).with_name("tierroute"))
    command = [cli, "serve", "--config", str(config), "--model", str(small_models_dir)]
    command += ["--port", str(port)]
    with (directory / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (directory / "serve.log").read_text()
            assert time.monotonic() < deadline, "tierroute serve did not become ready"
            time.sleep(0.1)
        yield Served(process, url, port)
    finally:
        process.terminate()
        process.wait(30)


def _send_all(sockets: list[socket.socket], data: bytes) -> int:
    """Send ``data`` on every socket that takes it; the number that refused (closed)."""
    refused = 0
    for sock in sockets:
        try:
            sock.send(data)
        except (BlockingIOError, InterruptedError):
            continue  # the server stopped reading this one: its buffer is full
        except OSError:
            refused += 1
    return refused


def _answers(sockets: list[socket.socket], wait: float) -> list[bytes]:
    """What each socket received before EOF (or within ``wait`` seconds)."""
    for sock in sockets:
        sock.setblocking(True)
        sock.settimeout(wait)
    received = []
    for sock in sockets:
        chunks = b""
        try:
            while chunk := sock.recv(65536):
                chunks += chunk
        except TimeoutError:
            chunks += b"<still open>"
        except OSError:
            pass
        received.append(chunks)
        sock.close()
    return received


def test_huge_unfinished_headers_are_cut_at_the_limit(served: Served) -> None:
    """50 connections each sending 2 MB of one header: 431 at 16 KiB, memory stays flat."""
    pid = served.process.pid
    before = _rss_mib(pid)
    sockets = [served.connect() for _ in range(50)]
    _send_all(sockets, b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ")
    piece = b"a" * 65536
    for _ in range(32):  # 2 MiB per connection if the server took it all
        _send_all(sockets, piece)
    assert served.healthz_ms() < 1000
    grown = _rss_mib(pid) - before
    answers = _answers(sockets, wait=5)
    assert sum(a.startswith(b"HTTP/1.1 431") for a in answers) >= 45, answers[:3]
    assert all(b"<still open>" not in a for a in answers)
    # Without the cap uvicorn buffered all of it: ~100 MB.
    assert grown < 25, f"server RSS grew {grown:.1f} MiB"


def test_slowloris_connections_are_dropped_and_others_served(served: Served) -> None:
    """200 connections dribbling headers: normal requests go on; after 1.5 s they get 408."""
    pid = served.process.pid
    baseline = _sockets(pid)
    sockets = [served.connect() for _ in range(200)]
    request = b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: " + b"a" * 100
    start = time.monotonic()
    sent = 0
    latencies = []
    while time.monotonic() - start < 1.2:  # within the header deadline: all still held
        _send_all(sockets, request[sent : sent + 1])
        sent += 1
        latencies.append(served.healthz_ms())
        time.sleep(0.05)
    assert _sockets(pid) >= baseline + 150  # the server did hold them meanwhile
    assert max(latencies) < 1000, latencies
    # The drip goes on, but the header deadline has passed: each gets 408 and is closed.
    time.sleep(0.8)
    refused = _send_all(sockets, b"a")
    answers = _answers(sockets, wait=3)
    timed_out = sum(a.startswith(b"HTTP/1.1 408") for a in answers)
    assert timed_out + refused >= 190, (timed_out, refused, answers[:3])
    assert all(b"<still open>" not in a for a in answers)
    time.sleep(0.3)
    assert _sockets(pid) <= baseline + 5
    assert served.healthz_ms() < 1000


def test_a_body_that_never_finishes_is_cut_at_the_body_deadline(served: Served) -> None:
    sock = served.connect()
    sock.setblocking(True)
    head = (
        b"POST /v1/classify HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer " + KEY.encode() + b'\r\ncontent-length: 1000\r\n\r\n{"text": "'
    )
    sock.sendall(head)
    start = time.monotonic()
    (answer,) = _answers([sock], wait=6)
    assert b"<still open>" not in answer
    assert 1.0 < time.monotonic() - start < 5.0
    assert served.healthz_ms() < 1000


def _whole_response(sock: socket.socket) -> bytes:
    """One response, head and body, however TCP splits it (Content-Length framing)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return data


def test_idle_kept_alive_connections_close_after_the_keep_alive_timeout(served: Served) -> None:
    sock = served.connect()
    sock.setblocking(True)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
    sock.settimeout(5)
    assert _whole_response(sock).startswith(b"HTTP/1.1 200")
    start = time.monotonic()
    (rest,) = _answers([sock], wait=6)
    assert rest == b""
    assert 1.5 < time.monotonic() - start < 5.0


def test_a_normal_request_with_a_body_is_not_affected(served: Served) -> None:
    response = httpx.post(
        served.url + "/v1/classify",
        json={"text": "How do I reset my password?"},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["tier"]


def _healthz_on(sock: socket.socket) -> None:
    """One whole /healthz exchange on ``sock`` (kept alive)."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
    received = b""
    while not received.endswith(b'{"status":"ok"}'):
        received += sock.recv(65536)
    assert received.startswith(b"HTTP/1.1 200")


def test_limits_apply_to_every_request_of_a_kept_alive_connection(served: Served) -> None:
    sock = served.connect()
    sock.setblocking(True)
    sock.settimeout(5)
    _healthz_on(sock)
    # The second request's head starts, then stalls: the head deadline runs again for it.
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
    start = time.monotonic()
    (answer,) = _answers([sock], wait=6)
    assert answer.startswith(b"HTTP/1.1 408")
    assert 1.0 < time.monotonic() - start < 5.0
    sock = served.connect()
    sock.setblocking(True)
    sock.settimeout(5)
    _healthz_on(sock)
    with contextlib.suppress(OSError):  # closed while sending: the cap was hit
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 40_000)
    (answer,) = _answers([sock], wait=6)
    assert answer.startswith(b"HTTP/1.1 431")
