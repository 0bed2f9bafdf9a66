"""Fault test: PostgreSQL killed and restarted under load; every request is logged exactly once.

A private PostgreSQL server (tests/support/pg_instance.py; never the shared one on 5432) holds
the log of a gateway serving chat requests, streamed and not, from the fake upstream. Mid-load
the server is killed (``pg_ctl stop -m immediate``) and started again a few seconds later, far
longer than the old writer's 1.3 s of retries. Afterwards every request id the clients got back
is in the log once, none twice, and the writer counted the spooled rows and lost none.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.live import load, serving, write_config
from tests.support.pg_instance import PrivatePostgres, available
from tierroute.store import LogWriter, get_requests, open_engine

KEY = "gw-outage-key"
PROVIDER_KEY_ENV = "TIERROUTE_OUTAGE_PROVIDER_KEY"
WORKERS = 8


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    reason = available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with PrivatePostgres() as pg:
        yield pg


def send_load(url: str, stop: threading.Event, ids: list[str], failures: list[str]) -> None:
    """One client: chat requests (every third streamed) until ``stop``; ids of the answers."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        i = 0
        while not stop.is_set():
            i += 1
            body = {
                "model": "auto",
                "messages": [{"role": "user", "content": f"Where is my order {i}?"}],
                "stream": i % 3 == 0,
            }
            with client.stream("POST", "/v1/chat/completions", json=body) as response:
                response.read()
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                ids.append(response.headers["x-request-id"])


def test_postgres_killed_mid_load_loses_and_doubles_no_row(
    private_pg: PrivatePostgres,
    tmp_path: Path,
    small_models_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_url = private_pg.create_database("tierroute_outage")
    monkeypatch.setenv("TIERROUTE_API_KEYS", KEY)
    monkeypatch.setenv(PROVIDER_KEY_ENV, "sk-outage")
    ids: list[str] = []
    failures: list[str] = []
    with FakeUpstream(Reply(delay=0.005), record=False).running() as fake:
        config = load(
            write_config(tmp_path, fake.base_url, key_env=PROVIDER_KEY_ENV, log_url=log_url)
        )
        spool = tmp_path / "spool"
        with serving(config, small_models_dir, registry=CollectorRegistry(), spool_dir=spool) as (
            server,
            app,
        ):
            writer: LogWriter = app.state.tierroute.writer
            writer.probe_s = 0.2
            stop = threading.Event()
            clients = [
                threading.Thread(target=send_load, args=(server.url, stop, ids, failures))
                for _ in range(WORKERS)
            ]
            for thread in clients:
                thread.start()
            time.sleep(1.0)
            private_pg.kill()
            killed_at = len(ids)
            time.sleep(3.0)  # down for longer than the old writer's 1.3 s of retries
            private_pg.start()
            time.sleep(1.5)
            stop.set()
            for thread in clients:
                thread.join(30)
            assert len(ids) > killed_at  # requests were served during the outage
            deadline = time.monotonic() + 30
            while (writer.database_down or writer.spool_pending) and time.monotonic() < deadline:
                time.sleep(0.1)
    assert failures == []
    assert writer.spooled > 0  # the outage hit the writer
    assert writer.dropped == 0 and writer.dead_lettered == 0
    assert 0 < writer.replayed <= writer.spooled
    engine = open_engine(log_url)
    try:
        logged = Counter(str(row["request_id"]) for row in get_requests(engine))
    finally:
        engine.dispose()
    assert set(logged) == set(ids)  # every answered request is in the log ...
    assert max(logged.values()) == 1  # ... exactly once
    assert len(ids) == len(set(ids))
