"""Per-decision latency and batch throughput: scikit-learn pipeline, compiled predictor, heuristic.

    python benchmarks/classifier.py [--model models] [--data data/raw] [--n 3000]

Prints p50/p99 of one decision (the serving path) and texts/s for batches. A script, not a test:
figures depend on the machine; record them in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tierroute import load_model
from tierroute.classifier.baseline import HeuristicRouter
from tierroute.data.io import read_labeled


def latencies_us(
    fn: Callable[[str], object],
    texts: Sequence[str],
    clock: Callable[[], int] = time.perf_counter_ns,
) -> np.ndarray:
    for text in texts[:200]:  # warm caches
        fn(text)
    out = np.empty(len(texts))
    gc.disable()
    try:
        for i, text in enumerate(texts):
            start = clock()
            fn(text)
            out[i] = (clock() - start) / 1000
    finally:
        gc.enable()
    return out


def throughput(fn: Callable[[list[str]], object], texts: list[str], batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        fn(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, default=Path("models"), help="model dir or models root"
    )
    parser.add_argument(
        "--data", type=Path, default=Path("data/raw"), help="labeled texts to time on"
    )
    parser.add_argument("--n", type=int, default=3000, help="number of single decisions to time")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timing rounds; percentiles are their medians"
    )
    args = parser.parse_args()

    model = load_model(args.model)
    texts = [row.text for row in read_labeled([args.data], skip_invalid=True).rows]
    random.Random(0).shuffle(texts)
    sample = (texts * (args.n // max(len(texts), 1) + 1))[: args.n]
    lengths = [len(t) for t in sample]
    print(
        f"model {model.model_id}; {len(sample)} queries from {args.data} "
        f"(chars p50 {statistics.median(lengths):.0f}, p99 {np.percentile(lengths, 99):.0f})"
    )
    heuristic = HeuristicRouter()
    rows = [
        (
            "sklearn pipeline (predict_proba of 1)",
            lambda t: model.predict_proba([t]),
            sample[: min(1000, len(sample))],
        ),
        ("compiled predictor (model.predict)", model.predict, sample),
        ("keyword heuristic", heuristic.predict, sample),
    ]
    # Wall time is what a request sees; thread CPU time is the same figure without the time this
    # process was descheduled, which keeps comparisons honest on a busy machine.
    print(f"{'single decision':42} {'p50 us':>8} {'p99 us':>8} {'cpu p50':>8} {'cpu p99':>8}")
    for name, fn, data in rows:
        rounds = []
        for _ in range(args.rounds):
            wall = latencies_us(fn, data)
            cpu = latencies_us(fn, data, time.thread_time_ns)
            rounds.append([np.percentile(x, q) for x in (wall, cpu) for q in (50, 99)])
        figures = np.median(np.array(rounds), axis=0)
        print(f"{name:42} " + " ".join(f"{v:8.1f}" for v in figures))
    print(f"{'batch throughput':42} {'texts/s':>8}")
    for batch in (64, 512):
        print(
            f"{'sklearn predict_batch, batch ' + str(batch):42} {throughput(model.predict_batch, sample, batch):8.0f}"
        )
    print(
        f"{'compiled, one at a time':42} {throughput(lambda b: [model.predict(t) for t in b], sample, 512):8.0f}"
    )
    print(f"{'heuristic':42} {throughput(heuristic.predict_batch, sample, 512):8.0f}")


if __name__ == "__main__":
    main()
