"""Send a chat request along a tier's model chain: retries, backoff, failover, breaker, limits.

For each model of the chain, in order: skip it if its circuit is open, its rate limit is reached
or its provider key is not set; otherwise try it up to ``retry.attempts_per_model`` times.
Connect errors, timeouts before the first byte, 429, 502/503/504 and 500 marked retryable
(``x-should-retry: true``) are retried on the same model after a capped, fully jittered
exponential backoff (or the provider's Retry-After, when it is short); a long Retry-After, other
5xx and malformed answers fail over at once. A 4xx other than 429 is the caller's problem and
is raised as ``UpstreamRejected`` without retrying. A stream is never retried once its first
bytes arrived. The request body is built fresh for every attempt from the caller's dict, which
is never modified.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from tierroute.config import GatewayConfig, split_model_ref
from tierroute.exceptions import (
    ChainExhausted,
    InvalidRequest,
    ProviderKeyMissing,
    UnknownModel,
    UpstreamRejected,
)
from tierroute.gateway.attempt import (
    CIRCUIT_OPEN,
    CONNECT_ERROR,
    HTTP_4XX,
    HTTP_5XX,
    HTTP_429,
    KEY_MISSING,
    MALFORMED,
    OK,
    RATE_LIMITED,
    TIMEOUT,
    Attempt,
)
from tierroute.gateway.backoff import Backoff, parse_retry_after
from tierroute.gateway.breaker import CircuitBreaker
from tierroute.gateway.costs import Price, PriceBook
from tierroute.gateway.metrics import GatewayMetrics, default_metrics
from tierroute.gateway.ratelimit import ModelLimiter, build_limiters, estimate_tokens
from tierroute.gateway.scrub import scrub
from tierroute.gateway.streaming import StreamHandle, token_counts
from tierroute.gateway.upstream import UpstreamClient, provider_timeout

__all__ = ["Attempt", "DispatchResult", "Dispatcher", "Route", "StreamHandle"]

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
class _Retry:
    """How a failed attempt continues: same model again (after a delay) or the next model."""

    same_model: bool
    retry_after: float | None = None


class Dispatcher:
    """Dispatches chat requests upstream; one per process (it owns the pooled client)."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        metrics: GatewayMetrics | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        retry = config.retry
        self._config = config
        self._metrics = metrics if metrics is not None else default_metrics()
        self._sleep = sleep
        self._clock = clock
        self._environ = environ
        self._backoff = Backoff(retry.backoff_base, retry.backoff_cap, rng)
        self._attempts_per_model = retry.attempts_per_model
        self._max_retry_after = retry.max_retry_after
        self._client = UpstreamClient()
        prices = PriceBook.from_config(config)
        limiters = build_limiters(config.limits, clock)
        self._routes: dict[str, Route] = {}
        for ref in config.model_names():
            provider_name, model = split_model_ref(ref)
            provider = config.providers[provider_name]
            self._routes[ref] = Route(
                ref=ref,
                provider=provider_name,
                model=model,
                url=provider.chat_url,
                key_env=provider.api_key_env,
                read_timeout=provider.read_timeout,
                timeout=provider_timeout(provider.connect_timeout, provider.read_timeout),
                breaker=CircuitBreaker(retry.breaker_failures, retry.breaker_cooldown, clock),
                limiter=limiters.get(ref),
                price=prices.price(ref),
                extra_headers=provider.headers,
            )

    async def start(self) -> None:
        """Open the pooled client and read provider keys from the environment."""
        environ = self._environ if self._environ is not None else os.environ
        for route in self._routes.values():
            headers = {"Content-Type": "application/json", **route.extra_headers}
            if route.key_env is None:
                route.headers = headers
                continue
            key = environ.get(route.key_env, "").strip()
            route.headers = {**headers, "Authorization": f"Bearer {key}"} if key else None
            route.secrets = (key,) if key else ()
        await self._client.start()
        self._metrics.watch_breakers(self.breaker_states)

    async def aclose(self) -> None:
        """Close the pooled client."""
        self._metrics.unwatch_breakers()
        await self._client.aclose()

    def breaker_state(self, model: str) -> str:
        """``closed``, ``open`` or ``half_open`` for a configured ``provider:model``."""
        return self._route(model).breaker.state

    def breaker_states(self) -> dict[str, str]:
        """Circuit state of every configured model."""
        return {ref: route.breaker.state for ref, route in self._routes.items()}

    async def complete(
        self, body: Mapping[str, Any], chain: Sequence[str], *, max_tokens: int | None = None
    ) -> DispatchResult:
        """A non-streaming chat completion from the first model of ``chain`` that answers.

        ``max_tokens`` (the tier's cap) lowers the client's value or sets it when absent.
        Raises ChainExhausted, UpstreamRejected, ProviderKeyMissing or UnknownModel.
        """
        result = await self._dispatch(body, chain, max_tokens, stream=False)
        assert isinstance(result, DispatchResult)
        return result

    async def stream(
        self, body: Mapping[str, Any], chain: Sequence[str], *, max_tokens: int | None = None
    ) -> StreamHandle:
        """A streamed chat completion, returned once its first bytes arrived (see StreamHandle).

        Retries and failover happen before that; the same errors as ``complete`` are raised.
        """
        result = await self._dispatch(body, chain, max_tokens, stream=True)
        assert isinstance(result, StreamHandle)
        return result

    def _route(self, ref: str) -> Route:
        route = self._routes.get(ref)
        if route is None:
            raise UnknownModel(ref, list(self._routes))
        return route

    async def _dispatch(
        self, body: Mapping[str, Any], chain: Sequence[str], max_tokens: int | None, stream: bool
    ) -> DispatchResult | StreamHandle:
        base = _prepare(body, max_tokens, stream)
        routes = [self._route(ref) for ref in chain]
        attempts: list[Attempt] = []
        estimate: int | None = None
        missing_keys: list[str] = []
        started = self._clock()
        for index, route in enumerate(routes):
            if index:
                self._metrics.failover(routes[index - 1].ref)
            if route.headers is None:
                missing_keys.append(str(route.key_env))
                self._skip(
                    attempts, route, KEY_MISSING, f"environment variable {route.key_env} is not set"
                )
                continue
            for retry in range(self._attempts_per_model):
                if not route.breaker.allow():
                    self._skip(
                        attempts, route, CIRCUIT_OPEN, "circuit open after repeated failures"
                    )
                    break
                reserved = 0
                limiter = route.limiter
                if limiter is not None:
                    if limiter.counts_tokens:
                        if estimate is None:
                            estimate = estimate_tokens(base, None)
                        reserved = estimate
                    if not limiter.try_acquire(reserved):
                        route.breaker.release()
                        self._skip(attempts, route, RATE_LIMITED, "rpm or tpm limit reached")
                        break
                try:
                    payload = orjson.dumps({**base, "model": route.model})
                except (TypeError, orjson.JSONEncodeError) as exc:
                    route.breaker.release()
                    raise InvalidRequest(f"request body cannot be encoded: {exc}") from exc
                outcome: DispatchResult | StreamHandle | _Retry
                try:
                    if stream:
                        outcome = await self._stream_once(
                            route, payload, attempts, reserved, started
                        )
                    else:
                        outcome = await self._complete_once(
                            route, payload, attempts, reserved, started
                        )
                except BaseException:
                    # Cancelled (client gone) or rejected: tells nothing about the model's health.
                    route.breaker.release()
                    raise
                if not isinstance(outcome, _Retry):
                    return outcome
                if not outcome.same_model or retry + 1 == self._attempts_per_model:
                    break
                await self._sleep(self._backoff.delay(retry, outcome.retry_after))
        if missing_keys and len(missing_keys) == len(attempts):
            raise ProviderKeyMissing(missing_keys, attempts=attempts)
        raise ChainExhausted(attempts)

    def _skip(self, attempts: list[Attempt], route: Route, outcome: str, detail: str) -> None:
        attempts.append(Attempt(route.ref, outcome, None, 0.0, detail))
        self._metrics.attempt(route.ref, outcome)

    def _fail(
        self,
        attempts: list[Attempt],
        route: Route,
        outcome: str,
        status: int | None,
        t0: float,
        detail: str,
        retry: _Retry,
    ) -> _Retry:
        attempts.append(Attempt(route.ref, outcome, status, (self._clock() - t0) * 1000.0, detail))
        self._metrics.attempt(route.ref, outcome)
        route.breaker.record_failure()
        if retry.retry_after is not None and not retry.same_model:
            route.breaker.hold_open(retry.retry_after)
        return retry

    async def _complete_once(
        self, route: Route, payload: bytes, attempts: list[Attempt], reserved: int, started: float
    ) -> DispatchResult | _Retry:
        t0 = self._clock()
        try:
            async with self._client.session.post(
                route.url, data=payload, headers=route.headers, timeout=route.timeout
            ) as response:
                raw = await response.read()
        except TimeoutError:
            return self._fail(
                attempts, route, TIMEOUT, None, t0, f"no answer within {route.read_timeout:g}s",
                _Retry(True),
            )  # fmt: skip
        except aiohttp.ClientError as exc:
            return self._fail(
                attempts, route, CONNECT_ERROR, None, t0, _describe(exc), _Retry(True)
            )
        status = response.status
        if status != 200:
            return self._http_failure(attempts, route, t0, status, response.headers, raw)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            return self._fail(
                attempts, route, MALFORMED, status, t0, "answer is not a chat completion JSON",
                _Retry(False),
            )  # fmt: skip
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

    async def _stream_once(
        self, route: Route, payload: bytes, attempts: list[Attempt], reserved: int, started: float
    ) -> StreamHandle | _Retry:
        t0 = self._clock()
        try:
            response = await self._client.session.post(
                route.url, data=payload, headers=route.headers, timeout=route.timeout
            )
        except TimeoutError:
            return self._fail(
                attempts, route, TIMEOUT, None, t0, f"no answer within {route.read_timeout:g}s",
                _Retry(True),
            )  # fmt: skip
        except aiohttp.ClientError as exc:
            return self._fail(
                attempts, route, CONNECT_ERROR, None, t0, _describe(exc), _Retry(True)
            )
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
            return self._fail(
                attempts, route, TIMEOUT, 200, t0,
                f"no first byte within {route.read_timeout:g}s", _Retry(True),
            )  # fmt: skip
        except aiohttp.ClientError as exc:
            response.close()
            return self._fail(
                attempts, route, CONNECT_ERROR, 200, t0, f"before the first byte: {_describe(exc)}",
                _Retry(True),
            )  # fmt: skip
        except BaseException:
            response.close()
            raise
        if not first:
            response.close()
            return self._fail(
                attempts, route, MALFORMED, 200, t0, "stream closed before any data", _Retry(True)
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
    ) -> _Retry:
        if status == 429 or status in _RETRYABLE_5XX:
            retry_after = parse_retry_after(headers.get("Retry-After"))
            outcome = HTTP_429 if status == 429 else HTTP_5XX
            if retry_after is not None and retry_after > self._max_retry_after:
                detail = f"HTTP {status}, Retry-After {retry_after:g}s: failing over"
                return self._fail(
                    attempts, route, outcome, status, t0, detail, _Retry(False, retry_after)
                )
            detail = f"HTTP {status}" + (f", Retry-After {retry_after:g}s" if retry_after else "")
            return self._fail(
                attempts, route, outcome, status, t0, detail, _Retry(True, retry_after)
            )
        if status >= 500:
            retryable = status == 500 and headers.get("x-should-retry", "").lower() == "true"
            return self._fail(
                attempts, route, HTTP_5XX, status, t0, f"HTTP {status}", _Retry(retryable)
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
        return self._fail(
            attempts, route, MALFORMED, status, t0, f"unexpected HTTP {status}", _Retry(False)
        )


def _prepare(body: Mapping[str, Any], max_tokens: int | None, stream: bool) -> dict[str, Any]:
    """The caller's body with the tier's cap and our streaming options (a copy)."""
    base = dict(body)
    if max_tokens is not None:
        key = "max_completion_tokens" if "max_completion_tokens" in base else "max_tokens"
        asked = base.get(key)
        if (
            not isinstance(asked, int)
            or isinstance(asked, bool)
            or asked <= 0
            or asked > max_tokens
        ):
            base[key] = max_tokens
    if stream:
        base["stream"] = True
        options = base.get("stream_options")
        base["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    else:
        base.pop("stream", None)
        base.pop("stream_options", None)
    return base


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
