"""A streamed answer being passed through, whole SSE event by whole SSE event, as it arrives.

``open`` reads until the first real content: comments and the opening role chunk do not
commit the stream (they are held, the comments dropped), an in-band error before any content
lets the dispatcher fail over. Once the first content is out no retry happens: an error mid-way
ends the iteration and is reported in ``error``.

The dispatcher asks upstream for ``stream_options.include_usage`` to price the answer; the
extra ``"choices": []`` usage chunk is read and passed on only when the client asked for it
(the openai SDK's ``chunk.choices[0]`` would fail on it otherwise). When no usage arrives (the
stream broke, the client left, the provider sends none) the tokens are estimated from the
prompt and the characters relayed, and ``cost_estimated`` says so: a streamed answer is never
silently free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from tierroute.gateway.attempt import CANCELLED, STREAM_ERROR, Attempt
from tierroute.gateway.ratelimit import estimate_completion_tokens, estimate_prompt_tokens
from tierroute.gateway.scrub import scrub
from tierroute.gateway.sse import (
    COMMENT,
    CONTENT,
    DONE,
    DONE_EVENT,
    ERROR,
    ROLE,
    USAGE,
    Event,
    EventSplitter,
    error_event,
    parse_event,
)

if TYPE_CHECKING:
    from tierroute.gateway.metrics import GatewayMetrics
    from tierroute.gateway.route import Route
    from tierroute.state.base import Ticket

_SEP = b"\n\n"


def token_counts(usage: dict[str, Any]) -> tuple[int, int]:
    """(prompt, completion) tokens of an OpenAI usage object; bad values count as 0."""
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    return (
        prompt if isinstance(prompt, int) and prompt > 0 else 0,
        completion if isinstance(completion, int) and completion > 0 else 0,
    )


class StreamHandle:
    """Iterate for SSE bytes (whole events); afterwards read tokens, cost, timing and ``error``.

    ``aclose()`` must be called when the client goes away (or always, in a ``finally``): it
    cancels the upstream request by closing its connection.
    """

    def __init__(
        self,
        *,
        route: Route,
        response: aiohttp.ClientResponse,
        attempts: list[Attempt],
        reservation: Ticket | None,
        started: float,
        clock: Callable[[], float],
        metrics: GatewayMetrics,
        body: Mapping[str, Any],
        relay_usage: bool,
    ) -> None:
        self.model = route.ref
        self.attempts = attempts
        self.status = response.status
        self.content_type = response.headers.get("Content-Type", "text/event-stream")
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost_usd = 0.0
        self.cost_estimated = False
        self.first_byte_ms = 0.0
        self.upstream_ms = 0.0
        self.error: str | None = None
        self.error_sent = False  # the relay already carries an error event
        self.bytes_sent = 0
        self.chars = 0  # completion characters relayed
        self._route = route
        self._response: aiohttp.ClientResponse | None = response
        self._splitter = EventSplitter()
        self._pending: list[bytes] = []  # held before the first content, sent with it
        self._usage: dict[str, Any] | None = None
        self._done = False
        self._finished_reason = False
        self._ended = False  # an in-band error or [DONE] ended the relay
        self._reservation = reservation
        self._started = started
        self._clock = clock
        self._metrics = metrics
        self._body = body
        self._relay_usage = relay_usage

    @property
    def finished(self) -> bool:
        """True once the stream ended, broke or was closed."""
        return self._response is None

    async def open(self) -> Event | None:
        """Read up to the first content, [DONE] or in-band error (returned); None at the end.

        Raises the client's TimeoutError / ClientError; the caller closes the response then.
        """
        response = self._response
        assert response is not None
        first: Event | None = None
        while True:
            chunk = await response.content.readany()
            events = self._splitter.feed(chunk) if chunk else [self._splitter.rest()]
            for raw in events:
                if not raw or self._ended:
                    continue
                if first is not None:  # the rest of the read that brought the first content
                    self._pending.append(self._take(parse_event(raw)))
                    continue
                event = parse_event(raw)
                kind = event.kind
                if kind == COMMENT:
                    continue  # keep-alives before the answer: no byte to the client yet
                if kind == ERROR:
                    return event
                self._pending.append(self._take(event))
                if kind in (CONTENT, DONE):
                    first = event
            if first is not None or not chunk:
                return first

    def committed(self) -> None:
        """The dispatcher accepted the stream: time to first content is now."""
        self.first_byte_ms = (self._clock() - self._started) * 1000.0

    def _take(self, event: Event) -> bytes:
        """Account for one event; the bytes to relay (b"" for none)."""
        kind = event.kind
        if event.usage is not None:
            self._usage = event.usage
        if kind in (CONTENT, ROLE):
            self.chars += event.chars
            if event.finished:
                self._finished_reason = True
            return event.raw
        if kind == USAGE:
            return event.raw if self._relay_usage and event.usage is not None else b""
        if kind == DONE:
            self._done = self._ended = True
            return DONE_EVENT[:-2]
        if kind == ERROR:
            error = event.error or {}
            message = error.get("message")
            text = scrub(message if isinstance(message, str) else "error event")
            self.error = f"upstream error event mid-stream: {text}"
            self._ended = self.error_sent = True
            return error_event(text, "upstream_error")[:-2]
        return event.raw

    def __aiter__(self) -> StreamHandle:
        return self

    async def __anext__(self) -> bytes:
        pending = self._pending
        if pending:
            self._pending = []
            return self._out([raw for raw in pending if raw])
        while True:
            response = self._response
            if response is None or self._ended:
                if response is not None:
                    self._finish(self.error)
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
                out = self._relay([self._splitter.rest()])
                if not self._done and self._finished_reason and not self._ended:
                    # Complete answer (finish_reason) without [DONE]: close it as OpenAI does.
                    out.append(DONE_EVENT[:-2])
                    self._done = True
                self._finish(None if self._done else "upstream stream ended without [DONE]")
                if out:
                    return self._out(out)
                raise StopAsyncIteration
            out = self._relay(self._splitter.feed(chunk))
            if out:
                return self._out(out)

    def _relay(self, events: list[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for raw in events:
            if not raw or self._ended:
                continue
            data = self._take(parse_event(raw))
            if data:
                out.append(data)
        return out

    def _out(self, events: list[bytes]) -> bytes:
        data = _SEP.join(events) + _SEP
        self.bytes_sent += len(data)
        return data

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
        else:
            response.close()  # drops the connection: the upstream stops generating
            attempt.outcome = CANCELLED if cancelled else STREAM_ERROR
            attempt.detail = f"{error} after {self.bytes_sent} bytes"
            if not cancelled:
                route.gate.record_failure()
        self._metrics.attempt(route.ref, attempt.outcome)
        usage = self._usage
        if usage is not None:
            self.prompt_tokens, self.completion_tokens = token_counts(usage)
        else:
            self.prompt_tokens = estimate_prompt_tokens(self._body)
            self.completion_tokens = estimate_completion_tokens(self.chars)
            self.cost_estimated = True
        if route.price is not None:
            self.cost_usd = route.price.cost(self.prompt_tokens, self.completion_tokens)
        if self._reservation is not None:
            route.gate.settle(self._reservation, self.prompt_tokens + self.completion_tokens)
        self._metrics.completed(
            route.ref,
            self.upstream_ms / 1000.0,
            self.prompt_tokens,
            self.completion_tokens,
            self.cost_usd,
        )
        self._pending = []
