"""A streamed answer being passed through: raw SSE bytes, chunk by chunk, as they arrive.

Once the first bytes are out no retry happens: an error mid-way ends the iteration and is
reported in ``error``. Usage is read from the final chunk (the dispatcher asks for it with
``stream_options.include_usage``), found in a short tail buffer kept while streaming, so no
chunk is parsed on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from tierroute.gateway.attempt import CANCELLED, STREAM_ERROR, Attempt

if TYPE_CHECKING:
    from tierroute.gateway.calls import Route
    from tierroute.gateway.metrics import GatewayMetrics

_TAIL_BYTES = 16_384
_DONE = b"data: [DONE]"


def usage_from_sse_tail(tail: bytes) -> tuple[int, int] | None:
    """(prompt_tokens, completion_tokens) of the last SSE event that carries usage."""
    for line in reversed(tail.split(b"\n")):
        line = line.strip()
        if not line.startswith(b"data:") or b'"usage"' not in line:
            continue
        try:
            event = orjson.loads(line[5:])
        except orjson.JSONDecodeError:
            continue
        usage = event.get("usage") if isinstance(event, dict) else None
        if isinstance(usage, dict):
            return token_counts(usage)
    return None


def token_counts(usage: dict[str, Any]) -> tuple[int, int]:
    """(prompt, completion) tokens of an OpenAI usage object; bad values count as 0."""
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    return (
        prompt if isinstance(prompt, int) and prompt > 0 else 0,
        completion if isinstance(completion, int) and completion > 0 else 0,
    )


class StreamHandle:
    """Iterate for the upstream's SSE bytes; afterwards read tokens, cost, timing and ``error``.

    ``aclose()`` must be called when the client goes away (or always, in a ``finally``): it
    cancels the upstream request by closing its connection.
    """

    def __init__(
        self,
        *,
        route: Route,
        response: aiohttp.ClientResponse,
        first: bytes,
        attempts: list[Attempt],
        reserved_tokens: int,
        started: float,
        clock: Callable[[], float],
        metrics: GatewayMetrics,
    ) -> None:
        self.model = route.ref
        self.attempts = attempts
        self.status = response.status
        self.content_type = response.headers.get("Content-Type", "text/event-stream")
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost_usd = 0.0
        self.first_byte_ms = (clock() - started) * 1000.0
        self.upstream_ms = 0.0
        self.error: str | None = None
        self.bytes_sent = 0
        self._route = route
        self._response: aiohttp.ClientResponse | None = response
        self._first: bytes | None = first
        self._tail = b""
        self._reserved = reserved_tokens
        self._started = started
        self._clock = clock
        self._metrics = metrics

    @property
    def finished(self) -> bool:
        """True once the stream ended, broke or was closed."""
        return self._response is None

    def __aiter__(self) -> StreamHandle:
        return self

    async def __anext__(self) -> bytes:
        first = self._first
        if first is not None:
            self._first = None
            self._keep(first)
            return first
        response = self._response
        if response is None:
            raise StopAsyncIteration
        try:
            chunk = await response.content.readany()
        except TimeoutError:
            self._finish(f"upstream stream stalled (no data for {self._route.read_timeout:g}s)")
            raise StopAsyncIteration from None
        except aiohttp.ClientError as exc:
            self._finish(f"upstream stream broke: {type(exc).__name__}")
            raise StopAsyncIteration from None
        if not chunk:
            done = _DONE in self._tail
            self._finish(None if done else "upstream stream ended without [DONE]")
            raise StopAsyncIteration
        self._keep(chunk)
        return chunk

    def _keep(self, chunk: bytes) -> None:
        self.bytes_sent += len(chunk)
        tail = self._tail
        drop = len(tail) + len(chunk) - _TAIL_BYTES
        if drop <= 0:
            self._tail = tail + chunk
        elif drop >= len(tail):
            self._tail = chunk[-_TAIL_BYTES:]
        else:
            self._tail = tail[drop:] + chunk

    async def aclose(self) -> None:
        """Stop now: close the upstream connection (the provider sees the request cancelled)."""
        if self._response is not None:
            self._finish("client disconnected", cancelled=True)

    def _finish(self, error: str | None, *, cancelled: bool = False) -> None:
        response, self._response = self._response, None
        if response is None:
            return
        route = self._route
        self.upstream_ms = (self._clock() - self._started) * 1000.0
        self.error = error
        attempt = self.attempts[-1]
        if error is None:
            response.release()
            route.breaker.record_success()
        else:
            response.close()  # drops the connection: the upstream stops generating
            attempt.outcome = CANCELLED if cancelled else STREAM_ERROR
            attempt.detail = f"{error} after {self.bytes_sent} bytes"
            if cancelled:
                route.breaker.release()
            else:
                route.breaker.record_failure()
        self._metrics.attempt(route.ref, attempt.outcome)
        usage = usage_from_sse_tail(self._tail)
        if usage is not None:
            self.prompt_tokens, self.completion_tokens = usage
        if route.price is not None:
            self.cost_usd = route.price.cost(self.prompt_tokens, self.completion_tokens)
        if route.limiter is not None and usage is not None:
            route.limiter.settle(self._reserved, self.prompt_tokens + self.completion_tokens)
        self._metrics.completed(
            route.ref,
            self.upstream_ms / 1000.0,
            self.prompt_tokens,
            self.completion_tokens,
            self.cost_usd,
        )
        self._tail = b""
