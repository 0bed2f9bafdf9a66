"""Redaction time on a megabyte of adversarial text (issue 8: linear, < 50 ms for the named cases).

    python benchmarks/redact.py [--size 1048576] [--runs 5]

Prints the best of ``--runs`` timings of ``tierroute.redact.redact`` per input, with the input
families of ``tests/support/redaction_inputs.py`` (the first three are the issue's named cases). A
script, not a test: figures depend on the machine; record them in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.redaction_inputs import ADVERSARIAL

from tierroute.redact import redact

INPUTS = {
    **ADVERSARIAL,
    "plain prose": ("How do I reset my password on the new app? ", "", ""),
}


def sized(size: int, piece: str, head: str, tail: str) -> str:
    """``head``, ``piece`` repeated, ``tail``: ``size`` characters in all."""
    room = size - len(head) - len(tail)
    return head + (piece * (room // len(piece) + 1))[:room] + tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1 << 20, help="characters per input")
    parser.add_argument("--runs", type=int, default=5, help="timings per input (best kept)")
    args = parser.parse_args()
    print(f"{'input':28s} {'ms':>8s} {'MB/s':>8s}")
    for name, spec in INPUTS.items():
        text = sized(args.size, *spec)
        best = float("inf")
        for _ in range(args.runs):
            start = time.perf_counter()
            redact(text)
            best = min(best, time.perf_counter() - start)
        print(f"{name:28s} {best * 1000:8.1f} {args.size / best / 1e6:8.1f}")


if __name__ == "__main__":
    main()
