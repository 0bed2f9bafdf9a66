"""Shared fixtures: a small trained model (session-scoped) and the repo's paths."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from tierroute.classifier.train import TrainOptions, train_model
from tierroute.data.io import read_labeled
from tierroute.data.schema import LabeledRow

REPO = Path(__file__).resolve().parents[1]
RAW_DATA = REPO / "data" / "raw"

# The learning-loop fixtures (data pools, a champion, a request log) and the Redis ones serve
# several test folders.
pytest_plugins = ["tests.support.learning", "tests.support.redis_state"]


def sample_rows(per_tier: int, seed: int = 0) -> list[LabeledRow]:
    """A deterministic sample of ``data/raw`` with ``per_tier`` rows of each tier."""
    rows = read_labeled([RAW_DATA]).rows
    by_tier: dict[str, list[LabeledRow]] = defaultdict(list)
    for row in rows:
        by_tier[row.tier].append(row)
    rng = random.Random(seed)
    picked: list[LabeledRow] = []
    for tier in sorted(by_tier):
        picked.extend(rng.sample(by_tier[tier], min(per_tier, len(by_tier[tier]))))
    return picked


@pytest.fixture(scope="session")
def small_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models root whose champion was trained on 80 rows per tier (a few seconds)."""
    root = tmp_path_factory.mktemp("models")
    train_model(sample_rows(80), root, TrainOptions(cv_folds=3, c_grid=(10.0,), char_grid=(True,)))
    return root


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL database at 127.0.0.1:5432 (dropped after); skips without a server.

    Never skips when ``CI=true``: there the server must be up.
    """
    import os
    import uuid

    try:
        import psycopg

        admin = psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True, connect_timeout=3
        )
    except Exception as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 unreachable: {exc}")
    name = f"tierroute_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
