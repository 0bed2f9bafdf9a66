"""The request log under bad rows, outages and overload: every row stored once or kept on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, inspect, text

from tierroute.store import (
    LogWriter,
    RequestRecord,
    default_spool_dir,
    get_requests,
    open_engine,
)
from tierroute.store.keys import KeyHasher, key_hasher, load_log_secret
from tierroute.store.schema import metadata

SECRET_TEXT = "my card is secret-4111 and my name is Private Person"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(log_url: str) -> Iterator[Engine]:
    eng = open_engine(log_url)
    yield eng
    eng.dispose()


def row(request_id: str, **extra: object) -> RequestRecord:
    return RequestRecord(request_id=request_id, endpoint="chat", status=200, **extra)  # type: ignore[arg-type]


def test_nul_text_and_oversized_ids_do_not_fail_the_batch(engine: Engine) -> None:
    writer = LogWriter(engine, retry_delays=())
    writer.start()
    writer.submit(row("ok-1", text="plain"))
    writer.submit(
        row(
            "nul-1",
            text="before\x00after",
            error="provider said \x00",
            client_request_id="c" * 300,
            attempts=[{"model": "m", "detail": "bad \x00 byte"}],
        )
    )
    writer.submit(row("ok-2"))
    writer.submit(row("b" * 128 + ".0"))  # a 128-character id with a batch suffix
    writer.close()
    rows = {r["request_id"]: r for r in get_requests(engine)}
    assert set(rows) == {"ok-1", "nul-1", "ok-2", "b" * 128}
    assert rows["nul-1"]["text"] == "before\ufffdafter"
    assert rows["nul-1"]["error"] == "provider said \ufffd"
    assert rows["nul-1"]["client_request_id"] == "c" * 128
    assert rows["nul-1"]["attempts"][0]["detail"] == "bad \ufffd byte"
    assert writer.written == 4 and writer.dead_lettered == 0


def test_a_refused_row_is_set_aside_alone_without_its_text_in_the_logs(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = tmp_path / "dead.jsonl"
    writer = LogWriter(engine, dead_letter=dead, retry_delays=())
    writer.start()
    with caplog.at_level(logging.DEBUG):
        for i in range(5):
            writer.submit(row(f"good-{i}", text=SECRET_TEXT))
        # Out of range for an INTEGER column on both backends: the database refuses this row.
        writer.submit(row("bad-1", prompt_tokens=2**70, text=SECRET_TEXT))
        for i in range(5, 8):
            writer.submit(row(f"good-{i}", text=SECRET_TEXT))
        writer.close()
    stored = sorted(r["request_id"] for r in get_requests(engine))
    assert stored == sorted(f"good-{i}" for i in range(8))
    (kept,) = [json.loads(line) for line in dead.read_text().splitlines()]
    assert kept["request_id"] == "bad-1" and kept["table"] == "requests"
    assert writer.written == 8 and writer.dead_lettered == 1 and writer.dropped == 0
    assert "bad-1" in caplog.text
    assert "secret-4111" not in caplog.text  # no request text or SQL parameters in error logs
    assert "INSERT" not in caplog.text


def test_an_unreachable_database_spools_and_replays_when_it_answers(tmp_path: Path) -> None:
    # Tables missing: every write fails as the database being unusable (OperationalError).
    url = f"sqlite:///{tmp_path / 'later.db'}"
    engine = open_engine(url, create=False)
    spool = tmp_path / "spool"
    writer = LogWriter(engine, spool_dir=spool, retry_delays=(0.01,), probe_s=0.05)
    writer.start()
    for i in range(10):
        writer.submit(row(f"r-{i}", text=SECRET_TEXT))
    writer.flush().result(timeout=10)
    assert writer.database_down
    assert writer.spooled == 10 and writer.written == 0
    assert len((spool / "spool.jsonl").read_text().splitlines()) == 10
    metadata.create_all(engine)  # the database "comes back"
    writer.flush().result(timeout=10)
    deadline = 200
    while writer.replayed < 10 and deadline:
        writer.flush().result(timeout=10)
        time.sleep(0.05)
        deadline -= 1
    writer.submit(row("r-after"))
    writer.close()
    ids = [r["request_id"] for r in get_requests(engine)]
    assert sorted(ids) == sorted([*(f"r-{i}" for i in range(10)), "r-after"])
    assert writer.replayed == 10 and not writer.database_down
    assert not list(spool.glob("*.jsonl"))  # replayed files are removed
    engine.dispose()


def test_the_spool_is_replayed_on_start_exactly_once(engine: Engine, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    # A row already stored (its commit survived an outage whose acknowledgement did not) and
    # two that were not, plus a damaged line: stored once each, the damaged line set aside.
    first = LogWriter(engine)
    first.start()
    first.submit(row("both-places"))
    first.close()
    lines = [
        json.dumps({"table": "requests", **row(rid).row()}, default=str)
        for rid in ("both-places", "only-spooled-1", "only-spooled-2")
    ]
    (spool / "spool.jsonl").write_text("\n".join([*lines, "{damaged"]) + "\n")
    writer = LogWriter(engine, spool_dir=spool)
    writer.start()
    writer.close()
    ids = sorted(r["request_id"] for r in get_requests(engine))
    assert ids == ["both-places", "only-spooled-1", "only-spooled-2"]
    assert writer.replayed == 2
    assert (spool / "dead-letter.jsonl").read_text().strip() == "{damaged"


def test_the_queue_is_bounded_and_spills_to_the_spool(engine: Engine, tmp_path: Path) -> None:
    writer = LogWriter(engine, spool_dir=tmp_path / "spool", max_queue=5)
    for i in range(20):  # the thread is not running yet: nothing drains the queue
        writer.submit(row(f"q-{i}"))
    assert writer.backlog == 5 and writer.spooled == 15
    writer.start()
    writer.close()
    assert sorted(r["request_id"] for r in get_requests(engine)) == sorted(
        f"q-{i}" for i in range(20)
    )
    assert writer.replayed == 15 and writer.written == 5


def test_without_a_spool_a_full_queue_counts_what_it_drops(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    writer = LogWriter(engine, max_queue=3)
    for i in range(5):
        writer.submit(row(f"d-{i}"))
    assert writer.backlog == 3 and writer.dropped == 2
    assert "d-4" in caplog.text
    writer.close()


def test_an_old_log_gets_the_new_columns_at_start(log_url: str) -> None:
    old = MetaData()
    Table(
        "requests",
        old,
        Column("id", Integer, primary_key=True),
        Column("request_id", String(128), nullable=False),
    )
    bootstrap = open_engine(log_url, create=False)
    old.create_all(bootstrap)
    with bootstrap.begin() as conn:
        conn.execute(text("INSERT INTO requests (request_id) VALUES ('old-1')"))
    bootstrap.dispose()
    engine = open_engine(log_url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("requests")}
        assert {"client_request_id", "api_key_hash", "attempts", "route_side"} <= columns
        with engine.connect() as conn:
            side = conn.execute(text("SELECT route_side FROM requests")).scalar_one()
        assert side == "champion"  # NOT NULL columns arrive with their default
        writer = LogWriter(engine)
        writer.submit(row("new-1", client_request_id="mine"))
        writer.close()
        assert [r["request_id"] for r in get_requests(engine)] == ["old-1", "new-1"]
    finally:
        engine.dispose()


def test_the_log_secret_is_generated_once_and_keys_the_hashes(tmp_path: Path) -> None:
    first = load_log_secret(None, tmp_path)
    assert first is not None and len(first) == 64
    assert load_log_secret(None, tmp_path) == first  # stable across restarts
    assert (tmp_path / "log-secret").stat().st_mode & 0o777 == 0o600
    assert load_log_secret("from-the-environment", tmp_path) == b"from-the-environment"
    hasher = key_hasher(None, tmp_path)
    assert hasher("k-1") == KeyHasher(first)("k-1") != KeyHasher(b"x" * 32)("k-1")
    assert hasher("k-1") != hashlib.sha256(b"k-1").hexdigest()[:32]  # not the unkeyed hash


def test_serve_keeps_the_spool_next_to_the_database() -> None:
    assert default_spool_dir("sqlite:////var/lib/tr/log.db") == Path("/var/lib/tr/log.db-spool")
    assert default_spool_dir("postgresql://u@h/db") == Path("tierroute-spool")
