"""One HTTP call to one model, and what its outcome means for retrying.

``UpstreamCalls`` sends a prepared body, records the ``Attempt``, updates the model's circuit
breaker and rate limiter, and answers either a result (a ``DispatchResult`` or, for streams,
a ``StreamHandle`` once the first bytes arrived) or a ``Retry`` saying whether the same model may
be tried again. The chain policy around it lives in ``tierroute.gateway.dispatch``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from tierroute.exceptions import UpstreamRejected
from tierroute.gateway.attempt import (
    CONNECT_ERROR,
    HTTP_4XX,
    HTTP_5XX,
    HTTP_429,
    MALFORMED,
    OK,
    TIMEOUT,
    Attempt,
)
from tierroute.gateway.backoff import parse_retry_after
from tierroute.gateway.breaker import CircuitBreaker
from tierroute.gateway.costs import Price
from tierroute.gateway.metrics import GatewayMetrics
from tierroute.gateway.ratelimit import ModelLimiter
from tierroute.gateway.scrub import scrub
from tierroute.gateway.streaming import StreamHandle, token_counts
from tierroute.gateway.upstream import UpstreamClient

_RETRYABLE_5XX = frozenset({502, 503, 504})


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


@dataclass(slots=True, eq=False)
class Route:
    """Everything needed to call one configured model, resolved once."""

    ref: str  # "provider:model"
    provider: str
    model: str  # the name the provider expects
    url: str
    key_env: str | None
    read_timeout: float
    timeout: aiohttp.ClientTimeout
    breaker: CircuitBreaker
    limiter: ModelLimiter | None
    price: Price | None
    extra_headers: Mapping[str, str]
    headers: dict[str, str] | None = None  # None until start(), or when the key is missing
    secrets: tuple[str, ...] = ()


@dataclass(slots=True)
class Retry:
    """How a failed attempt continues: same model again (after a delay) or the next model."""

    same_model: bool
    retry_after: float | None = None


class UpstreamCalls:
    """Makes single attempts through the pooled client."""

    def __init__(
        self,
        client: UpstreamClient,
        metrics: GatewayMetrics,
        clock: Callable[[], float],
        max_retry_after: float,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._clock = clock
        self._max_retry_after = max_retry_after

    def fail(
        self,
        attempts: list[Attempt],
        route: Route,
        outcome: str,
        status: int | None,
        t0: float,
        detail: str,
        retry: Retry,
    ) -> Retry:
        """Record a failed attempt against the model's health; a failover Retry-After rests it."""
        attempts.append(Attempt(route.ref, outcome, status, (self._clock() - t0) * 1000.0, detail))
        self._metrics.attempt(route.ref, outcome)
        route.breaker.record_failure()
        if retry.retry_after is not None and not retry.same_model:
            route.breaker.hold_open(retry.retry_after)
        return retry

    def _transport_failure(
        self,
        attempts: list[Attempt],
        route: Route,
        t0: float,
        exc: TimeoutError | aiohttp.ClientError,
    ) -> Retry:
        """No HTTP answer at all (timeout before the first byte, refused or dropped connection)."""
        if isinstance(exc, TimeoutError):
            detail = f"no answer within {route.read_timeout:g}s"
            return self.fail(attempts, route, TIMEOUT, None, t0, detail, Retry(True))
        return self.fail(attempts, route, CONNECT_ERROR, None, t0, _describe(exc), Retry(True))

    async def complete(
        self, route: Route, payload: bytes, attempts: list[Attempt], reserved: int, started: float
    ) -> DispatchResult | Retry:
        """One non-streaming call: the parsed answer with tokens and cost, or how to go on."""
        t0 = self._clock()
        try:
            async with self._client.session.post(
                route.url, data=payload, headers=route.headers, timeout=route.timeout
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
            return self.fail(
                attempts,
                route,
                MALFORMED,
                status,
                t0,
                "answer is not a chat completion JSON",
                Retry(False),
            )
        now = self._clock()
        usage = data.get("usage")
        prompt, completion = token_counts(usage) if isinstance(usage, dict) else (0, 0)
        if route.limiter is not None and isinstance(usage, dict):
            route.limiter.settle(reserved, prompt + completion)
        cost = route.price.cost(prompt, completion) if route.price is not None else 0.0
        route.breaker.record_success()
        attempts.append(Attempt(route.ref, OK, status, (now - t0) * 1000.0, "ok"))
        self._metrics.attempt(route.ref, OK)
        upstream_s = now - started
        self._metrics.completed(route.ref, upstream_s, prompt, completion, cost)
        return DispatchResult(
            route.ref, status, data, attempts, prompt, completion, cost, upstream_s * 1000.0, raw
        )

    async def stream(
        self, route: Route, payload: bytes, attempts: list[Attempt], reserved: int, started: float
    ) -> StreamHandle | Retry:
        """One streaming call, handed over once its first bytes arrived, or how to go on."""
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
            first = await response.content.readany()
        except TimeoutError:
            response.close()
            return self.fail(
                attempts,
                route,
                TIMEOUT,
                200,
                t0,
                f"no first byte within {route.read_timeout:g}s",
                Retry(True),
            )
        except aiohttp.ClientError as exc:
            response.close()
            return self.fail(
                attempts,
                route,
                CONNECT_ERROR,
                200,
                t0,
                f"before the first byte: {_describe(exc)}",
                Retry(True),
            )
        except BaseException:
            response.close()
            raise
        if not first:
            response.close()
            return self.fail(
                attempts, route, MALFORMED, 200, t0, "stream closed before any data", Retry(True)
            )
        attempts.append(Attempt(route.ref, OK, 200, (self._clock() - t0) * 1000.0, "first byte"))
        return StreamHandle(
            route=route,
            response=response,
            first=first,
            attempts=attempts,
            reserved_tokens=reserved,
            started=started,
            clock=self._clock,
            metrics=self._metrics,
        )

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
            retry_after = parse_retry_after(headers.get("Retry-After"))
            outcome = HTTP_429 if status == 429 else HTTP_5XX
            if retry_after is not None and retry_after > self._max_retry_after:
                detail = f"HTTP {status}, Retry-After {retry_after:g}s: failing over"
                return self.fail(
                    attempts, route, outcome, status, t0, detail, Retry(False, retry_after)
                )
            detail = f"HTTP {status}" + (f", Retry-After {retry_after:g}s" if retry_after else "")
            return self.fail(attempts, route, outcome, status, t0, detail, Retry(True, retry_after))
        if status >= 500:
            retryable = status == 500 and headers.get("x-should-retry", "").lower() == "true"
            return self.fail(
                attempts, route, HTTP_5XX, status, t0, f"HTTP {status}", Retry(retryable)
            )
        if 400 <= status < 500:
            message = scrub(_provider_message(raw), route.secrets)
            attempts.append(
                Attempt(
                    route.ref, HTTP_4XX, status, (self._clock() - t0) * 1000.0, f"HTTP {status}"
                )
            )
            self._metrics.attempt(route.ref, HTTP_4XX)
            raise UpstreamRejected(status, message, route.provider, attempts=attempts)
        return self.fail(
            attempts, route, MALFORMED, status, t0, f"unexpected HTTP {status}", Retry(False)
        )


def _provider_message(raw: bytes) -> str:
    """The message of an OpenAI-style error body, else the start of the body."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:300].decode("utf-8", "replace")
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        for key in ("message", "detail", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return raw[:300].decode("utf-8", "replace")


def _describe(exc: aiohttp.ClientError) -> str:
    """A short reason for a connection-level failure (no headers, so no keys)."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection dropped by the server"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc.os_error.strerror or type(exc.os_error).__name__}"
    return type(exc).__name__
