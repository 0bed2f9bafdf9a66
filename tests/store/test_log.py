"""The request log on real databases: SQLite files and (marked postgres) PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tierroute.exceptions import ConfigError, LogUnavailable
from tierroute.store import (
    FeedbackRecord,
    LogWriter,
    RequestRecord,
    cost_summary,
    get_feedback,
    get_requests,
    normalize_url,
    open_engine,
    request_exists,
    utcnow,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sub' / 'log.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    eng = open_engine(url)
    yield eng
    eng.dispose()


def chat(request_id: str, model: str, tier: str, cost: float, **extra: object) -> RequestRecord:
    return RequestRecord(
        request_id=request_id,
        endpoint="chat",
        status=int(extra.pop("status", 200)),  # type: ignore[call-overload]
        requested_model="auto",
        tier=tier,
        model=model,
        prompt_tokens=100,
        completion_tokens=50,
        cost_usd=cost,
        attempts=[{"model": model, "outcome": "ok", "status": 200, "latency_ms": 20.0}],
        **extra,  # type: ignore[arg-type]
    )


def test_rows_round_trip_with_every_field(engine: Engine) -> None:
    writer = LogWriter(engine)
    writer.start()
    record = chat(
        "r-1",
        "agg:gpt-4.1",
        "complex_reasoning",
        0.0012,
        confidence=0.91,
        fallback=False,
        model_id="m-1",
        text="Call [PHONE]",
        user_key="abc",
        route_side="canary",
        challenger_tier="simple_faq",
        challenger_model_id="m-2",
        latency_ms=25.5,
        upstream_ms=21.0,
        classify_ms=0.05,
        overhead_ms=4.5,
        stream=True,
    )
    writer.submit(record)
    writer.close()
    (row,) = get_requests(engine, "r-1")
    assert row["model"] == "agg:gpt-4.1"
    assert row["attempt_count"] == 1
    assert row["attempts"][0]["outcome"] == "ok"
    assert row["stream"] is True
    assert row["route_side"] == "canary"
    assert row["challenger_tier"] == "simple_faq"
    assert row["confidence"] == pytest.approx(0.91)
    assert row["text"] == "Call [PHONE]"
    assert row["created_at"] == record.created_at
    assert request_exists(engine, "r-1")
    assert not request_exists(engine, "r-2")


def test_close_drains_everything_submitted_from_many_threads(engine: Engine) -> None:
    writer = LogWriter(engine, batch_size=64)
    writer.start()

    def produce(prefix: str) -> None:
        for i in range(300):
            writer.submit(chat(f"{prefix}-{i}", "p:m", "simple_faq", 0.0))

    threads = [threading.Thread(target=produce, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    rows = get_requests(engine)
    assert len(rows) == 1200
    assert len({r["request_id"] for r in rows}) == 1200
    assert writer.written == 1200


def test_flush_waits_for_earlier_rows_and_feedback_resolves(engine: Engine) -> None:
    writer = LogWriter(engine)
    writer.start()
    writer.submit(chat("r-9", "p:m", "simple_faq", 0.0))
    writer.flush().result(timeout=10)
    assert request_exists(engine, "r-9")
    writer.add_feedback(FeedbackRecord(tier="code_gen", request_id="r-9")).result(timeout=10)
    (label,) = get_feedback(engine, "r-9")
    assert label["tier"] == "code_gen"
    assert label["source"] == "api"
    writer.close()


def test_cost_summary_groups_by_model_and_tier_within_the_window(engine: Engine) -> None:
    writer = LogWriter(engine)
    writer.start()
    writer.submit(chat("a", "p:cheap", "simple_faq", 0.001))
    writer.submit(chat("b", "p:cheap", "simple_faq", 0.003))
    writer.submit(chat("c", "p:big", "complex_reasoning", 0.01, status=503))
    old = chat("d", "p:big", "complex_reasoning", 5.0)
    old.created_at = utcnow() - timedelta(hours=30)
    writer.submit(old)
    writer.submit(RequestRecord(request_id="e", endpoint="classify", status=200, tier="code_gen"))
    writer.close()

    summary = cost_summary(engine, hours=24)
    assert summary["total_requests"] == 3
    assert summary["errors"] == 1
    assert summary["prompt_tokens"] == 300
    assert summary["completion_tokens"] == 150
    assert summary["cost_usd"] == pytest.approx(0.014)
    assert summary["avg_cost_per_request"] == pytest.approx(0.014 / 3)
    by_model = {m["model"]: m for m in summary["by_model"]}
    assert by_model["p:cheap"]["requests"] == 2
    assert by_model["p:cheap"]["cost_usd"] == pytest.approx(0.004)
    assert by_model["p:big"]["errors"] == 1
    by_tier = {t["tier"]: t for t in summary["by_tier"]}
    assert set(by_tier) == {"simple_faq", "complex_reasoning"}
    assert cost_summary(engine, hours=48)["total_requests"] == 4


def test_unwritable_rows_go_to_the_dead_letter_file(tmp_path: Path) -> None:
    # Tables never created: every insert fails.
    engine = open_engine(f"sqlite:///{tmp_path / 'empty.db'}", create=False)
    dead = tmp_path / "dead.jsonl"
    writer = LogWriter(engine, dead_letter=dead, retry_delays=(0.01,))
    writer.start()
    writer.submit(chat("lost-1", "p:m", "simple_faq", 0.5))
    failed = writer.add_feedback(FeedbackRecord(tier="simple_faq", request_id="lost-1"))
    writer.close()
    with pytest.raises(LogUnavailable, match="OperationalError"):
        failed.result(timeout=5)
    lines = [json.loads(line) for line in dead.read_text().splitlines()]
    assert {(line["table"], line["request_id"]) for line in lines} == {
        ("requests", "lost-1"),
        ("feedback", "lost-1"),
    }
    assert writer.dead_lettered == 2


def test_submit_after_close_still_writes(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'log.db'}")
    writer = LogWriter(engine)
    writer.start()
    writer.close()
    writer.submit(chat("late", "p:m", "simple_faq", 0.0))
    assert request_exists(engine, "late")


def test_postgres_urls_use_psycopg3() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_bad_url_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"log\.url"):
        open_engine("not a url")
