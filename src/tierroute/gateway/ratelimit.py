"""Per-model rate limits (requests and tokens per minute) as token buckets, O(1) per check.

Checking a model consumes nothing unless the model is then used: ``try_acquire`` takes a
request slot and the estimated tokens together or not at all, and only from that model's
buckets (the original write-up's check used up a slot of every model it looked at).
Tokens are estimated before the call and settled afterwards with the reported usage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class TokenBucket:
    """``capacity`` units, refilled continuously at ``capacity`` per ``period`` seconds."""

    __slots__ = ("_capacity", "_clock", "_level", "_rate", "_updated")

    def __init__(self, capacity: float, period: float, clock: Callable[[], float]) -> None:
        self._capacity = capacity
        self._rate = capacity / period
        self._clock = clock
        self._level = capacity
        self._updated = clock()

    @property
    def capacity(self) -> float:
        """The bucket's size."""
        return self._capacity

    def available(self) -> float:
        """Units available now (negative after settling more use than was estimated)."""
        now = self._clock()
        self._level = min(self._capacity, self._level + (now - self._updated) * self._rate)
        self._updated = now
        return self._level

    def take(self, units: float) -> None:
        """Remove units unconditionally (the caller checked ``available`` first)."""
        self._level -= units


class ModelLimiter:
    """The rpm and tpm buckets of one model; either may be absent (unlimited)."""

    __slots__ = ("_requests", "_tokens")

    def __init__(self, rpm: int | None, tpm: int | None, clock: Callable[[], float]) -> None:
        self._requests = TokenBucket(rpm, 60.0, clock) if rpm else None
        self._tokens = TokenBucket(tpm, 60.0, clock) if tpm else None

    @property
    def counts_tokens(self) -> bool:
        """True when a tpm limit applies (the caller must estimate tokens)."""
        return self._tokens is not None

    def try_acquire(self, tokens: int = 0) -> bool:
        """Take one request slot and ``tokens`` if both are available; otherwise take nothing."""
        requests = self._requests
        bucket = self._tokens
        if requests is not None and requests.available() < 1.0:
            return False
        # A request larger than the whole bucket waits for a full bucket instead of never going.
        if bucket is not None and bucket.available() < min(tokens, bucket.capacity):
            return False
        if requests is not None:
            requests.take(1.0)
        if bucket is not None:
            bucket.take(tokens)
        return True

    def settle(self, estimated: int, actual: int) -> None:
        """Correct the token bucket once the provider reported the real usage."""
        if self._tokens is not None and actual != estimated:
            self._tokens.take(actual - estimated)


def build_limiters(
    limits: Mapping[str, Any], clock: Callable[[], float]
) -> dict[str, ModelLimiter]:
    """One limiter per model with an rpm or tpm limit (``limits``: model -> LimitConfig)."""
    return {
        ref: ModelLimiter(limit.rpm, limit.tpm, clock)
        for ref, limit in limits.items()
        if limit.rpm or limit.tpm
    }


def estimate_tokens(body: Mapping[str, Any], max_tokens: int | None) -> int:
    """Tokens a chat request may use: prompt characters / 4 plus the answer cap.

    Counting the cap is what providers do for their own tpm limits; ``settle`` gives back
    what the answer did not use.
    """
    chars = 0
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                chars += len(content)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        chars += len(part["text"])
    cap = max_tokens
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and value > 0:
            cap = value if cap is None else min(cap, value)
            break
    return chars // 4 + 1 + (cap or 0)
