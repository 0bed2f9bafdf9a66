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
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson

from tierroute.config import GatewayConfig, split_model_ref
from tierroute.exceptions import ChainExhausted, InvalidRequest, ProviderKeyMissing, UnknownModel
from tierroute.gateway.attempt import CIRCUIT_OPEN, KEY_MISSING, RATE_LIMITED, Attempt
from tierroute.gateway.backoff import Backoff
from tierroute.gateway.breaker import CircuitBreaker
from tierroute.gateway.calls import DispatchResult, Retry, Route, UpstreamCalls
from tierroute.gateway.costs import PriceBook
from tierroute.gateway.metrics import GatewayMetrics, default_metrics
from tierroute.gateway.ratelimit import build_limiters, estimate_tokens
from tierroute.gateway.streaming import StreamHandle
from tierroute.gateway.upstream import UpstreamClient, provider_timeout

logger = logging.getLogger(__name__)

__all__ = ["Attempt", "DispatchResult", "Dispatcher", "Route", "StreamHandle"]


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
        self._client = UpstreamClient()
        self._calls = UpstreamCalls(self._client, self._metrics, clock, retry.max_retry_after)
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
        missing: dict[str, list[str]] = {}
        for route in self._routes.values():
            headers = {"Content-Type": "application/json", **route.extra_headers}
            if route.key_env is None:
                route.headers = headers
                continue
            key = environ.get(route.key_env, "").strip()
            route.headers = {**headers, "Authorization": f"Bearer {key}"} if key else None
            route.secrets = (key,) if key else ()
            if not key:
                missing.setdefault(route.key_env, []).append(route.ref)
        for env_var, refs in missing.items():
            logger.warning(
                "%s is not set: requests to %s answer 503 until it is set and the gateway restarted",
                env_var,
                ", ".join(refs),
            )
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

    def missing_key_envs(self) -> list[str]:
        """Provider key variables that were unset at ``start`` (the keys requests will use)."""
        return sorted({r.key_env for r in self._routes.values() if r.key_env and r.headers is None})

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
                outcome: DispatchResult | StreamHandle | Retry
                try:
                    if stream:
                        outcome = await self._calls.stream(
                            route, payload, attempts, reserved, started
                        )
                    else:
                        outcome = await self._calls.complete(
                            route, payload, attempts, reserved, started
                        )
                except BaseException:
                    # Cancelled (client gone) or rejected: tells nothing about the model's health.
                    route.breaker.release()
                    raise
                if not isinstance(outcome, Retry):
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
