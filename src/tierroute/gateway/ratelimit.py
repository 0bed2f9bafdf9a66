"""Per-model rate limits (requests and tokens per minute) over a sliding 60-second window.

A token bucket that starts full and refills admits twice its rate in the first minute (a full
bucket, then a bucket's worth of refill); providers count a sliding minute, so a limit here holds
in every 60-second window: each admitted request is logged with its time and tokens, and leaves
the window 60 s later (amortised O(1): entries are appended and expire from the front).

Checking a model consumes nothing unless the model is then used: ``try_acquire`` takes a request
slot and the estimated tokens together or not at all, and only from that model's window (the
original write-up's check used up a slot of every model it looked at). The estimate is settled
with the reported usage afterwards, and released when the attempt failed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

WINDOW_S = 60.0


class Reservation:
    """One admitted request in the window: when, and how many tokens it holds."""

    __slots__ = ("at", "tokens")

    def __init__(self, at: float, tokens: int) -> None:
        self.at = at
        self.tokens = tokens


class ModelLimiter:
    """The rpm and tpm limits of one model; either may be absent (unlimited)."""

    __slots__ = ("_clock", "_entries", "_rpm", "_tokens", "_tpm")

    def __init__(self, rpm: int | None, tpm: int | None, clock: Callable[[], float]) -> None:
        self._rpm = rpm or None
        self._tpm = tpm or None
        self._clock = clock
        self._entries: deque[Reservation] = deque()
        self._tokens = 0  # tokens held by the entries in the window

    @property
    def counts_tokens(self) -> bool:
        """True when a tpm limit applies (the caller must estimate tokens)."""
        return self._tpm is not None

    def _expire(self, now: float) -> None:
        entries = self._entries
        horizon = now - WINDOW_S
        while entries and entries[0].at <= horizon:
            self._tokens -= entries.popleft().tokens

    def try_acquire(self, tokens: int = 0) -> Reservation | None:
        """A reservation of one request slot and ``tokens``, or None (nothing taken)."""
        now = self._clock()
        self._expire(now)
        if self._rpm is not None and len(self._entries) >= self._rpm:
            return None
        tpm = self._tpm
        if tpm is not None and self._tokens + tokens > tpm and self._tokens > 0:
            # A request larger than the whole limit goes when the window is empty, not never.
            return None
        reservation = Reservation(now, tokens)
        self._entries.append(reservation)
        self._tokens += tokens
        return reservation

    def settle(self, reservation: Reservation, actual: int) -> None:
        """Replace the estimate by the reported (or estimated) usage, while in the window."""
        if reservation.at > self._clock() - WINDOW_S and actual != reservation.tokens:
            self._tokens += actual - reservation.tokens
            reservation.tokens = actual

    def release(self, reservation: Reservation) -> None:
        """Give back the tokens of an attempt that failed (the request slot stays used)."""
        self.settle(reservation, 0)

    def retry_in(self) -> float:
        """Seconds until the oldest entry leaves the window (when a slot may free up)."""
        now = self._clock()
        self._expire(now)
        if not self._entries:
            return 0.0
        return max(self._entries[0].at + WINDOW_S - now, 0.0)


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Prompt tokens of a chat request, estimated as characters / 4 (+1)."""
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
    return chars // 4 + 1


def estimate_completion_tokens(chars: int) -> int:
    """Completion tokens for ``chars`` characters of answer (4 characters a token, rounded up)."""
    return -(-chars // 4)


def estimate_tokens(body: Mapping[str, Any], max_tokens: int | None) -> int:
    """Tokens a chat request may use: the prompt estimate plus the answer cap.

    Counting the cap is what providers do for their own tpm limits; ``settle`` gives back
    what the answer did not use.
    """
    cap = max_tokens
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and value > 0:
            cap = value if cap is None else min(cap, value)
            break
    return estimate_prompt_tokens(body) + (cap or 0)
