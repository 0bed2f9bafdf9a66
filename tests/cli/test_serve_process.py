"""``tierroute serve`` as a real process: training at start-up leaves no worker behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import sample_rows


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            kids = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except FileNotFoundError:
            continue
        for kid in map(int, kids):
            found += [kid, *_children(kid)]
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
def test_serve_trains_at_start_up_and_leaves_no_process_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "small.jsonl").write_text(
        "".join(json.dumps(r.to_json()) + "\n" for r in sample_rows(40, seed=9)),
        encoding="utf-8",
    )
    port = _free_port()
    env = {
        **os.environ,
        "TIERROUTE_MODELS_DIR": str(tmp_path / "models"),
        "TIERROUTE_DATA_DIR": str(data),
        "TIERROUTE_API_KEYS": "test-key",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "tierroute", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while True:
            seen.update(_children(server.pid))
            assert server.poll() is None, server.communicate()[0].decode()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        assert (tmp_path / "models" / "CHAMPION").is_file()
        workers = [
            p
            for p in _children(server.pid)
            if "loky" in _cmdline(p) and "resource_tracker" not in _cmdline(p)
        ]
        assert workers == [], [_cmdline(p) for p in workers]
        seen.update(_children(server.pid))
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=60)[0].decode()
    assert "Traceback" not in output, output
    # Every process the server started is gone with it (workers and trackers alike).
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in seen) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [(p, _cmdline(p)) for p in seen if _alive(p)] == []
