"""One HTTP call to one model, and what its outcome means for retrying.

``UpstreamCalls`` sends a prepared body, records the ``Attempt``, updates the model's circuit
breaker, and answers either a result (a ``DispatchResult`` or, for streams, a ``StreamHandle``
once the first content arrived) or a ``Retry`` saying whether the same model may be tried
again. The chain policy around it lives in ``tierroute.gateway.dispatch``.

Provider answers, by class:

* 429, 502/503/504, 500 with ``x-should-retry: true``, transport errors, 408: retried on the
  same model after a backoff (or the capped Retry-After), then failed over.
* 401/403 (key rejected or revoked), 402 (no credit), 404 (model unknown there), other 5xx,
  malformed answers, an in-band stream error before any content: failed over at once, counted
  in the model's breaker.
* 400/413 saying the context is too long (``context_length_exceeded`` and the like): failed
  over (the next model may have a longer context), not held against the model.
* Any other 4xx is the client's own request (malformed, bad parameter): returned as
  ``UpstreamRejected`` with the provider's ``code`` and ``param``, never retried.
"""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from tierroute.exceptions import UpstreamRejected
from tierroute.gateway.attempt import (
    AUTH_ERROR,
    CONNECT_ERROR,
    CONTEXT_TOO_LONG,
    ERROR_EVENT,
    HTTP_4XX,
    HTTP_5XX,
    HTTP_429,
    MALFORMED,
    MODEL_NOT_FOUND,
    NO_CREDIT,
    OK,
    TIMEOUT,
    Attempt,
)
from tierroute.gateway.backoff import retry_after_from
from tierroute.gateway.metrics import GatewayMetrics
from tierroute.gateway.ratelimit import estimate_completion_tokens, estimate_prompt_tokens
from tierroute.gateway.route import Route
from tierroute.gateway.scrub import scrub
from tierroute.gateway.sse import CONTENT, DONE, ERROR
from tierroute.gateway.streaming import StreamHandle, token_counts
from tierroute.gateway.upstream import UpstreamClient
from tierroute.state.base import Ticket

logger = logging.getLogger(__name__)

_RETRYABLE_5XX = frozenset({502, 503, 504})
_FAILOVER_4XX = {401: AUTH_ERROR, 403: AUTH_ERROR, 402: NO_CREDIT, 404: MODEL_NOT_FOUND}
_CONTEXT_CODES = frozenset(
    {
        "context_length_exceeded",
        "context_too_long",
        "prompt_too_long",
        "input_too_long",
        "string_above_max_length",
        "tokens_limit_exceeded",
    }
)
_CONTEXT_TEXT = re.compile(
    r"context[ _-]?(?:length|window)|maximum context|prompt is too long|input is too long"
    r"|too many (?:input )?tokens|reduce the length of the (?:messages|prompt|input)",
    re.IGNORECASE,
)


@dataclass(slots=True)
class DispatchResult:
    """A completed non-streaming call; ``raw`` is the provider's body as received."""

    model: str
    status: int
    body: dict[str, Any]
    attempts: list[Attempt]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    upstream_ms: float  # wall time in dispatch: every attempt and backoff wait
    raw: bytes = field(default=b"", repr=False)
    cost_estimated: bool = False  # the provider sent no usage: tokens are estimates


@dataclass(slots=True)
class Retry:
    """How a failed attempt continues: same model again (after a delay) or the next model.

    ``limited``: the provider said it is rate-limited (429), so the model is resting, not
    broken; ``rejection``: the provider's 4xx to return if no other model answers.
    """

    same_model: bool
    retry_after: float | None = None
    limited: bool = False
    rejection: UpstreamRejected | None = None


class UpstreamCalls:
    """Makes single attempts through the pooled client."""

    def __init__(
        self,
        client: UpstreamClient,
        metrics: GatewayMetrics,
        clock: Callable[[], float],
        max_retry_after: float,
        retry_after_cap: float,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._clock = clock
        self._max_retry_after = max_retry_after
        self._retry_after_cap = retry_after_cap

    def record(self, attempts: list[Attempt], attempt: Attempt) -> None:
        """Append an attempt and count it."""
        attempts.append(attempt)
        self._metrics.attempt(attempt.model, attempt.outcome)

    def fail(
        self,
        attempts: list[Attempt],
        route: Route,
        outcome: str,
        status: int | None,
        t0: float,
        detail: str,
        retry: Retry,
        *,
        health: bool = True,
    ) -> Retry:
        """Record a failed attempt (against the model's health unless ``health`` is False)."""
        latency = (self._clock() - t0) * 1000.0
        self.record(attempts, Attempt(route.ref, outcome, status, latency, detail))
        if not health:
            route.gate.release_probe()
            return retry
        route.gate.record_failure()
        if retry.retry_after is not None and not retry.same_model:
            route.gate.hold_open(retry.retry_after)
        return retry

    def _transport_failure(
        self,
        attempts: list[Attempt],
        route: Route,
        t0: float,
        exc: TimeoutError | aiohttp.ClientError,
    ) -> Retry:
        """No HTTP answer at all (connect or pool timeout, refused or dropped connection)."""
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            detail = "no connection within the connect or pool timeout"
            return self.fail(attempts, route, TIMEOUT, None, t0, detail, Retry(True))
        if isinstance(exc, TimeoutError):
            detail = f"no answer within {route.read_timeout:g}s"
            return self.fail(attempts, route, TIMEOUT, None, t0, detail, Retry(True))
        return self.fail(attempts, route, CONNECT_ERROR, None, t0, describe(exc), Retry(True))

    async def complete(
        self,
        route: Route,
        payload: bytes,
        attempts: list[Attempt],
        reservation: Ticket | None,
        started: float,
        body: Mapping[str, Any],
    ) -> DispatchResult | Retry:
        """One non-streaming call: the parsed answer with tokens and cost, or how to go on."""
        t0 = self._clock()
        try:
            async with self._client.session.post(
                route.url, data=payload, headers=route.headers, timeout=route.answer_timeout
            ) as response:
                raw = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            return self._transport_failure(attempts, route, t0, exc)
        status = response.status
        if status != 200:
            return self._http_failure(attempts, route, t0, status, response.headers, raw)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            detail = "answer is not a chat completion JSON"
            return self.fail(attempts, route, MALFORMED, status, t0, detail, Retry(False))
        now = self._clock()
        usage = data.get("usage")
        estimated = not isinstance(usage, dict)
        if isinstance(usage, dict):
            prompt, completion = token_counts(usage)
        else:
            prompt = estimate_prompt_tokens(body)
            completion = estimate_completion_tokens(_answer_chars(data["choices"]))
        if reservation is not None:
            route.gate.settle(reservation, prompt + completion)
        cost = route.price.cost(prompt, completion) if route.price is not None else 0.0
        route.gate.record_success()
        self.record(attempts, Attempt(route.ref, OK, status, (now - t0) * 1000.0, "ok"))
        upstream_s = now - started
        self._metrics.completed(route.ref, upstream_s, prompt, completion, cost)
        return DispatchResult(
            route.ref,
            status,
            data,
            attempts,
            prompt,
            completion,
            cost,
            upstream_s * 1000.0,
            raw,
            estimated,
        )

    async def stream(
        self,
        route: Route,
        payload: bytes,
        attempts: list[Attempt],
        reservation: Ticket | None,
        started: float,
        body: Mapping[str, Any],
        relay_usage: bool,
    ) -> StreamHandle | Retry:
        """One streaming call, handed over once its first content arrived, or how to go on.

        Comments (keep-alives) and the opening role chunk do not commit the stream; an in-band
        error before any content fails over like an HTTP error would.
        """
        t0 = self._clock()
        try:
            response = await self._client.session.post(
                route.url, data=payload, headers=route.headers, timeout=route.timeout
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            return self._transport_failure(attempts, route, t0, exc)
        try:
            if response.status != 200:
                raw = await response.read()
                response.release()
                return self._http_failure(
                    attempts, route, t0, response.status, response.headers, raw
                )
            handle = StreamHandle(
                route=route,
                response=response,
                attempts=attempts,
                reservation=reservation,
                started=started,
                clock=self._clock,
                metrics=self._metrics,
                body=body,
                relay_usage=relay_usage,
            )
            first = await handle.open()
        except TimeoutError:
            response.close()
            detail = f"no content within {route.read_timeout:g}s"
            return self.fail(attempts, route, TIMEOUT, 200, t0, detail, Retry(True))
        except aiohttp.ClientError as exc:
            response.close()
            detail = f"before any content: {describe(exc)}"
            return self.fail(attempts, route, CONNECT_ERROR, 200, t0, detail, Retry(True))
        except BaseException:
            response.close()
            raise
        if first is None or first.kind not in (CONTENT, DONE):
            response.close()
            if first is not None and first.kind == ERROR:
                message, code, _ = _error_fields(first.error or {})
                detail = scrub(f"error event before any content: {code or ''} {message}")
                return self.fail(attempts, route, ERROR_EVENT, 200, t0, detail, Retry(False))
            detail = "stream closed before any content"
            return self.fail(attempts, route, MALFORMED, 200, t0, detail, Retry(True))
        # A half-open probe has its answer at the first content, not at the stream's end.
        route.gate.record_success()
        latency = (self._clock() - t0) * 1000.0
        # Counted in the metrics when the stream ends (its outcome may still change).
        attempts.append(Attempt(route.ref, OK, 200, latency, "first content"))
        handle.committed()
        return handle

    def _http_failure(
        self,
        attempts: list[Attempt],
        route: Route,
        t0: float,
        status: int,
        headers: Mapping[str, str],
        raw: bytes,
    ) -> Retry:
        if status == 429 or status in _RETRYABLE_5XX:
            retry_after = retry_after_from(headers, self._retry_after_cap)
            limited = status == 429
            outcome = HTTP_429 if limited else HTTP_5XX
            if retry_after is not None and retry_after > self._max_retry_after:
                detail = f"HTTP {status}, Retry-After {retry_after:g}s: failing over"
                retry = Retry(False, retry_after, limited)
                return self.fail(attempts, route, outcome, status, t0, detail, retry)
            detail = f"HTTP {status}" + (f", Retry-After {retry_after:g}s" if retry_after else "")
            retry = Retry(True, retry_after, limited)
            return self.fail(attempts, route, outcome, status, t0, detail, retry)
        if status >= 500:
            retryable = status == 500 and headers.get("x-should-retry", "").lower() == "true"
            return self.fail(
                attempts, route, HTTP_5XX, status, t0, f"HTTP {status}", Retry(retryable)
            )
        if status == 408:
            return self.fail(attempts, route, TIMEOUT, status, t0, "HTTP 408", Retry(True))
        if 400 <= status < 500:
            message, code, param = _provider_error(raw, route.secrets)
            rejection = UpstreamRejected(
                status, message, route.provider, attempts=attempts, code=code, param=param
            )
            detail = f"HTTP {status}" + (f" {code}" if code else "")
            failover = _FAILOVER_4XX.get(status)
            if failover is not None:
                if failover == AUTH_ERROR:
                    logger.warning(
                        "provider %r rejected the key in %s (HTTP %d) for %s: failing over",
                        route.provider,
                        route.key_env,
                        status,
                        route.ref,
                    )
                retry = Retry(False, rejection=rejection)
                return self.fail(attempts, route, failover, status, t0, detail, retry)
            if status in (400, 413) and _context_too_long(code, message):
                retry = Retry(False, rejection=rejection)
                return self.fail(
                    attempts, route, CONTEXT_TOO_LONG, status, t0, detail, retry, health=False
                )
            latency = (self._clock() - t0) * 1000.0
            self.record(attempts, Attempt(route.ref, HTTP_4XX, status, latency, detail))
            rejection.attempts = attempts
            raise rejection
        detail = f"unexpected HTTP {status}"
        return self.fail(attempts, route, MALFORMED, status, t0, detail, Retry(False))


def _context_too_long(code: str | None, message: str) -> bool:
    return (code is not None and code in _CONTEXT_CODES) or bool(_CONTEXT_TEXT.search(message))


def _error_fields(error: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """(message, code, param) of an OpenAI error object; codes may be numbers."""
    message = error.get("message")
    code = error.get("code")
    param = error.get("param")
    return (
        message if isinstance(message, str) else "",
        str(code)[:64] if isinstance(code, str | int) and not isinstance(code, bool) else None,
        param[:64] if isinstance(param, str) else None,
    )


def _provider_error(raw: bytes, secrets: tuple[str, ...]) -> tuple[str, str | None, str | None]:
    """(message, code, param) of an OpenAI-style error body, scrubbed of keys."""
    message, code, param = "", None, None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message, code, param = _error_fields(error)
        else:
            for key in ("message", "detail", "error"):
                if isinstance(data.get(key), str):
                    message = str(data[key])
                    break
    if not message:
        message = raw[:300].decode("utf-8", "replace")
    return (
        scrub(message, secrets),
        scrub(code, secrets) if code else None,
        scrub(param, secrets) if param else None,
    )


def _answer_chars(choices: list[Any]) -> int:
    chars = 0
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            content = message.get("content")
            if isinstance(content, str):
                chars += len(content)
    return chars


def describe(exc: aiohttp.ClientError) -> str:
    """A short reason for a connection-level failure: no addresses, headers or keys."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection dropped by the server"
    if isinstance(exc, aiohttp.ClientConnectorError):
        # str(exc) says "Connect call failed ('127.0.0.1', 9)": internal addresses stay in
        # the server's log, clients get the kind of failure only.
        logger.info("cannot connect upstream: %s", exc)
        name = _ERRNO_NAMES.get(exc.os_error.errno or 0, type(exc.os_error).__name__)
        return f"cannot connect ({name})"
    return type(exc).__name__


_ERRNO_NAMES = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
}
