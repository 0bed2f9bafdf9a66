"""Run a request's CPU work (classifying and redacting long texts) off the event loop.

A megabyte of text takes tens of milliseconds to classify and redact (hundreds for crafted
input); on the event loop every other request, ``/healthz`` included, would wait that long.
Short texts, the common case, stay on the loop: a thread hop costs more than their work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")

# Above this many characters (or for a batch of texts) the work goes to a worker thread.
OFFLOAD_CHARS = 16_384


async def run_sized(chars: int, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``: inline for up to ``OFFLOAD_CHARS`` characters, else in a thread."""
    if chars <= OFFLOAD_CHARS:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)
