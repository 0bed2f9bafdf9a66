"""Time and peak Python memory of ``tierroute report`` over a large window of the request log.

    python benchmarks/report_window.py --rows 200000 [--db sqlite:///path.db]

Fills a SQLite log (a temporary file unless ``--db`` names one) with ``--rows`` chat and classify
rows spread over 30 days (two tiers shadowed by a challenger, some errors, a canary share), then
builds the report of the last 30 days as the CLI does and prints the wall time and the peak of
Python allocations (tracemalloc) during the build. The report aggregates in SQL, so the peak
should not grow with the number of rows.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from tierroute.reporting.build import build_report
from tierroute.reporting.costs import Pricing
from tierroute.store import RequestRecord, open_engine, utcnow
from tierroute.store.schema import requests

TIERS = ("simple_faq", "moderate_conv", "complex_reasoning", "code_gen")
PRIMARY = dict(zip(TIERS, ("p:small", "p:medium", "p:large", "p:coder"), strict=True))


def price(model: str, prompt: int, completion: int) -> float:
    """USD per million tokens: 1 in, 2 out (4x on p:large)."""
    scale = 4.0 if model == "p:large" else 1.0
    return scale * (prompt + 2 * completion) / 1e6


def fill(url: str, rows: int, seed: int = 0) -> None:
    """``rows`` logged requests over the last 30 days, inserted in batches."""
    rng = random.Random(seed)
    engine = open_engine(url)
    now = utcnow()
    batch: list[dict[str, object]] = []
    with engine.begin() as conn:
        for i in range(rows):
            tier = rng.choice(TIERS)
            chat = rng.random() < 0.9
            shadow = rng.random() < 0.3
            record = RequestRecord(
                request_id=f"r-{i}",
                endpoint="chat" if chat else "classify",
                status=rng.choice((200,) * 40 + (503, 499)),
                created_at=now - timedelta(seconds=rng.uniform(0, 30 * 86400)),
                tier=tier,
                confidence=rng.random(),
                fallback=rng.random() < 0.1,
                model_id="m-1",
                model=PRIMARY[tier] if chat else None,
                latency_ms=rng.lognormvariate(6, 0.5),
                prompt_tokens=rng.randint(20, 2000) if chat else 0,
                completion_tokens=rng.randint(10, 800) if chat else 0,
                cost_usd=rng.random() / 100,
                route_side="canary" if rng.random() < 0.05 else "champion",
                challenger_tier=rng.choice(TIERS) if shadow else None,
                challenger_model_id="m-2" if shadow else None,
            )
            batch.append(record.row())
            if len(batch) == 10_000:
                conn.execute(insert(requests), batch)
                batch.clear()
        if batch:
            conn.execute(insert(requests), batch)
    engine.dispose()


def main() -> None:
    """Fill, build, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'log.db'}"
        started = time.perf_counter()
        fill(url, args.rows)
        print(f"filled {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        engine = open_engine(url)
        pricing = Pricing(PRIMARY, "complex_reasoning", price)
        tracemalloc.start()
        started = time.perf_counter()
        report = build_report(engine, "30d", utcnow(), pricing, Path(tmp) / "no-models")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        engine.dispose()
        print(
            f"report of {report.usage.total.requests:,} chat requests: {elapsed:.2f} s, "
            f"peak Python allocations {peak / 2**20:.1f} MiB"
        )


if __name__ == "__main__":
    main()
