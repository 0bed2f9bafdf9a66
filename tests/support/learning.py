"""Learning-loop fixtures (a pytest plugin): disjoint data pools, a champion, a request log.

Registered in ``tests/conftest.py``; used by tests/retraining, reporting, simulation and cli.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import RAW_DATA
from tierroute.classifier.train import TrainOptions, train_model
from tierroute.data.io import read_labeled, write_jsonl
from tierroute.data.schema import LabeledRow
from tierroute.store import LogWriter, RequestRecord, open_engine, utcnow

# Small but real: training takes a second or two on 2 cores. The decision policy is the old
# one (fallback to moderate_conv at the least-cost threshold, which hardly ever falls back): a
# model of 160 rows held to 3 % out-of-group under-routing falls back on half the traffic to
# complex_reasoning, which makes the gate compare fallback rates; these tests are about the loop.
FAST = TrainOptions(
    cv_folds=3,
    c_grid=(10.0,),
    char_grid=(True,),
    max_under_routing=None,
    default_tier="moderate_conv",
)


@dataclass(frozen=True)
class Pools:
    """Disjoint samples of data/raw: the frozen evaluation set, the champion's data, traffic."""

    frozen: list[LabeledRow]
    base: list[LabeledRow]
    traffic: list[LabeledRow]


@pytest.fixture(scope="session")
def pools() -> Pools:
    by_tier: dict[str, list[LabeledRow]] = defaultdict(list)
    for row in read_labeled([RAW_DATA]).rows:
        by_tier[row.tier].append(row)
    rng = random.Random(4)
    frozen: list[LabeledRow] = []
    base: list[LabeledRow] = []
    traffic: list[LabeledRow] = []
    for tier in sorted(by_tier):
        # A frozen set of 100 per tier: on 50 one under-routed row (0.5 %) decides a verdict.
        rows = rng.sample(by_tier[tier], 100 + 40 + 120)
        frozen += rows[:100]
        base += rows[100:140]
        traffic += rows[140:]
    rng.shuffle(traffic)
    return Pools(frozen, base, traffic)


@pytest.fixture(scope="session")
def champion_template(pools: Pools, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models root whose champion learned from ``pools.base``; eval.jsonl = ``pools.frozen``."""
    root = tmp_path_factory.mktemp("loop-models")
    train_model(pools.base, root, FAST, eval_rows=pools.frozen)
    return root


@pytest.fixture
def models_root(champion_template: Path, tmp_path: Path) -> Path:
    """A private copy of the champion's models root (tests move its pointer)."""
    root = tmp_path / "models"
    shutil.copytree(champion_template, root)
    return root


@dataclass(frozen=True)
class Log:
    """A request-log database: its URL (for the CLI) and an engine (for the library)."""

    url: str
    engine: Engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Log]:
    """An empty request log on SQLite, and on PostgreSQL (own database, dropped after)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'log.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = open_engine(url)
    yield Log(url, engine)
    engine.dispose()


@pytest.fixture
def sqlite_log(tmp_path: Path) -> Iterator[Log]:
    """A SQLite request log only (tests whose subject is not the database)."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = open_engine(url)
    yield Log(url, engine)
    engine.dispose()


def log_traffic(
    engine: Engine,
    rows: Sequence[LabeledRow],
    *,
    start: datetime | None = None,
    step: timedelta = timedelta(minutes=10),
    prefix: str = "req",
    routed: str = "moderate_conv",
    tokens: tuple[int, int] = (0, 0),
) -> list[str]:
    """Log one classified request per row through the real writer; returns the request ids.

    Rows are spread in time, oldest first, ending about now.
    """
    first = start or utcnow() - step * (len(rows) + 1)
    ids = []
    writer = LogWriter(engine)
    writer.start()
    for i, row in enumerate(rows):
        request_id = f"{prefix}-{i:04d}"
        writer.submit(
            RequestRecord(
                request_id=request_id,
                endpoint="chat" if any(tokens) else "classify",
                status=200,
                created_at=first + step * i,
                requested_model="auto",
                tier=routed,
                confidence=0.5,
                fallback=False,
                model_id="m-test",
                model="p:m" if any(tokens) else None,
                prompt_tokens=tokens[0],
                completion_tokens=tokens[1],
                text=row.text,
            )
        )
        ids.append(request_id)
    writer.close()
    return ids


def write_label_file(path: Path, records: Iterable[dict[str, object]]) -> Path:
    """A JSONL label file."""
    write_jsonl(records, path)
    return path


def write_rows(path: Path, rows: Iterable[LabeledRow]) -> Path:
    """A labeled data file (JSONL)."""
    path.write_text(
        "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path
