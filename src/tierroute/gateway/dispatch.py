"""Send a chat request along a tier's model chain: retries, backoff, failover, breaker, limits.

For each model of the chain, in order: skip it if its circuit is open, its rate limit is reached
or its provider key is not set; otherwise try it up to ``retry.attempts_per_model`` times (see
``tierroute.gateway.calls`` for which provider answers are retried, failed over or returned).
Backoff is capped, fully jittered and exponential, or the provider's capped Retry-After. A
stream is never retried once its first content went out. The request body is built fresh for
every attempt from the caller's dict, which is never modified.

How a chain that found no answer ends: any model that failed -> 503 (``ChainExhausted``); else
any model rate-limited (here or upstream) or resting -> 429 with Retry-After
(``ChainRateLimited``); else a provider rejection (context too long, key, credit, unknown model)
-> that rejection with the provider's code and param; else no key at all -> 503. The whole
request (a stream: until its first content) runs within a deadline (``upstream.deadline``, or
the tier's ``deadline``): past it, 504 without another attempt.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson

from tierroute.config import GatewayConfig, split_model_ref
from tierroute.exceptions import (
    ChainExhausted,
    ChainRateLimited,
    DeadlineExceeded,
    InvalidRequest,
    ProviderKeyMissing,
    UnknownModel,
    UpstreamRejected,
)
from tierroute.gateway.attempt import (
    CIRCUIT_OPEN,
    DEADLINE,
    KEY_MISSING,
    RATE_LIMITED,
    Attempt,
)
from tierroute.gateway.backoff import Backoff
from tierroute.gateway.calls import DispatchResult, Retry, UpstreamCalls
from tierroute.gateway.costs import PriceBook
from tierroute.gateway.metrics import GatewayMetrics, default_metrics
from tierroute.gateway.ratelimit import estimate_tokens
from tierroute.gateway.route import Route
from tierroute.gateway.streaming import StreamHandle
from tierroute.gateway.upstream import UpstreamClient, answer_timeout, stream_timeout
from tierroute.state.backends import open_backend
from tierroute.state.base import GateSpec, StateBackend, Ticket

logger = logging.getLogger(__name__)

__all__ = ["Attempt", "DispatchResult", "Dispatcher", "Route", "StreamHandle"]

# Models that reject max_tokens and want max_completion_tokens (OpenAI's reasoning models).
_COMPLETION_TOKENS_MODELS = re.compile(r"^(?:o\d+(?:$|[-_.])|gpt-5)", re.IGNORECASE)
# Per model, how its chain ended (see the module docstring).
_FAILED, _LIMITED, _REJECTED, _NO_KEY = "failed", "limited", "rejected", "no_key"


def default_max_tokens_field(model: str) -> str | None:
    """``max_completion_tokens`` for o-series and gpt-5 models (by name), else None."""
    name = model.rsplit("/", 1)[-1]
    return "max_completion_tokens" if _COMPLETION_TOKENS_MODELS.match(name) else None


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
        state: StateBackend | None = None,
    ) -> None:
        """``state`` holds breakers and limits (default: the one ``[state]`` names, owned here)."""
        retry = config.retry
        self._config = config
        self._metrics = metrics if metrics is not None else default_metrics()
        self._sleep = sleep
        self._clock = clock
        self._environ = environ
        self._backoff = Backoff(retry.backoff_base, retry.backoff_cap, rng)
        self._attempts_per_model = retry.attempts_per_model
        upstream = config.upstream
        self._deadline = upstream.deadline
        self._tier_deadlines = {
            tier: t.deadline for tier, t in config.tiers.items() if t.deadline is not None
        }
        self._client = UpstreamClient(max_connections=upstream.max_connections)
        self._calls = UpstreamCalls(
            self._client, self._metrics, clock, retry.max_retry_after, retry.retry_after_cap
        )
        prices = PriceBook.from_config(config)
        self._owns_state = state is None
        self.state_backend = (
            state
            if state is not None
            else open_backend(config.state, registry=self._metrics.registry, clock=clock)
        )
        # A half-open probe is one attempt: it cannot outlive the longest request deadline.
        probe_ttl = max([upstream.deadline, *self._tier_deadlines.values()])
        self._routes: dict[str, Route] = {}
        for ref in config.model_names():
            provider_name, model = split_model_ref(ref)
            provider = config.providers[provider_name]
            options = config.models.get(ref)
            field = options.max_tokens_field if options is not None else None
            pool = upstream.pool_timeout
            limit = config.limits.get(ref)
            self._routes[ref] = Route(
                ref=ref,
                provider=provider_name,
                model=model,
                url=provider.chat_url,
                key_env=provider.api_key_env,
                read_timeout=provider.read_timeout,
                timeout=stream_timeout(provider.connect_timeout, pool, provider.read_timeout),
                answer_timeout=answer_timeout(provider.connect_timeout, pool),
                gate=self.state_backend.gate(
                    ref,
                    GateSpec(
                        rpm=limit.rpm if limit is not None else None,
                        tpm=limit.tpm if limit is not None else None,
                        failure_threshold=retry.breaker_failures,
                        cooldown=retry.breaker_cooldown,
                        probe_ttl=probe_ttl,
                    ),
                ),
                price=prices.price(ref),
                extra_headers=provider.headers,
                max_tokens_field=field or default_max_tokens_field(model),
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
                "%s is not set: requests to %s fail over or answer 503 until it is set and the "
                "gateway restarted",
                env_var,
                ", ".join(refs),
            )
        await self._client.start()
        if self._owns_state:
            await self.state_backend.start()
        self._metrics.watch_breakers(self.breaker_states)

    async def aclose(self) -> None:
        """Close the pooled client (and the state backend, when it is this dispatcher's)."""
        self._metrics.unwatch_breakers()
        await self._client.aclose()
        if self._owns_state:
            await self.state_backend.aclose()

    def breaker_state(self, model: str) -> str:
        """``closed``, ``open`` or ``half_open`` for a configured ``provider:model``."""
        return self._route(model).gate.state

    def breaker_states(self) -> dict[str, str]:
        """Circuit state of every configured model."""
        return {ref: route.gate.state for ref, route in self._routes.items()}

    def providers_without_key(self) -> list[str]:
        """Providers whose key variable was unset at ``start`` (the keys requests will use)."""
        return sorted(
            {r.provider for r in self._routes.values() if r.key_env and r.headers is None}
        )

    async def complete(
        self,
        body: Mapping[str, Any],
        chain: Sequence[str],
        *,
        max_tokens: int | None = None,
        tier: str | None = None,
    ) -> DispatchResult:
        """A non-streaming chat completion from the first model of ``chain`` that answers.

        ``max_tokens`` (the tier's cap) lowers the client's value or sets it when absent;
        ``tier`` picks the tier's deadline. Raises ChainExhausted, ChainRateLimited,
        DeadlineExceeded, UpstreamRejected, ProviderKeyMissing or UnknownModel.
        """
        result = await self._dispatch(body, chain, max_tokens, tier, stream=False)
        assert isinstance(result, DispatchResult)
        return result

    async def stream(
        self,
        body: Mapping[str, Any],
        chain: Sequence[str],
        *,
        max_tokens: int | None = None,
        tier: str | None = None,
    ) -> StreamHandle:
        """A streamed chat completion, returned once its first content arrived (StreamHandle).

        Retries and failover happen before that; the same errors as ``complete`` are raised.
        """
        result = await self._dispatch(body, chain, max_tokens, tier, stream=True)
        assert isinstance(result, StreamHandle)
        return result

    def _route(self, ref: str) -> Route:
        route = self._routes.get(ref)
        if route is None:
            raise UnknownModel(ref, list(self._routes))
        return route

    async def _dispatch(
        self,
        body: Mapping[str, Any],
        chain: Sequence[str],
        max_tokens: int | None,
        tier: str | None,
        stream: bool,
    ) -> DispatchResult | StreamHandle:
        base = _prepare(body, max_tokens, stream)
        relay_usage = stream and _asked_usage(body)
        routes = [self._route(ref) for ref in chain]
        attempts: list[Attempt] = []
        estimate: int | None = None
        verdicts: list[str] = []
        waits: list[float] = []
        rejections: list[UpstreamRejected] = []
        missing_keys: list[str] = []
        started = self._clock()
        deadline = self._tier_deadlines.get(tier, self._deadline) if tier else self._deadline
        deadline_at = started + deadline
        for index, route in enumerate(routes):
            if index:
                self._metrics.failover(routes[index - 1].ref)
            if route.headers is None:
                missing_keys.append(str(route.key_env))
                verdicts.append(_NO_KEY)
                self._skip(attempts, route, KEY_MISSING, "no provider key configured")
                continue
            verdict: str | None = None
            gate = route.gate
            for retry in range(self._attempts_per_model):
                tokens = 0
                if gate.counts_tokens:
                    if estimate is None:
                        estimate = estimate_tokens(base, None)
                    tokens = estimate
                admission = await gate.admit(tokens)
                if admission.refused is not None:
                    if admission.refused == CIRCUIT_OPEN:
                        self._skip(attempts, route, CIRCUIT_OPEN, "circuit open after failures")
                    else:
                        self._skip(attempts, route, RATE_LIMITED, "rpm or tpm limit reached")
                    if verdict is None:
                        verdict = _LIMITED
                        waits.append(admission.retry_in)
                    break
                reservation: Ticket | None = admission.ticket
                t0 = self._clock()
                remaining = deadline_at - t0
                outcome: DispatchResult | StreamHandle | Retry
                try:
                    payload = _payload(base, route)
                    if remaining <= 0:
                        raise TimeoutError
                    async with asyncio.timeout(remaining):
                        if stream:
                            outcome = await self._calls.stream(
                                route, payload, attempts, reservation, started, base, relay_usage
                            )
                        else:
                            outcome = await self._calls.complete(
                                route, payload, attempts, reservation, started, base
                            )
                except TimeoutError:
                    # The deadline, not the model: no verdict on its health, no retry (a
                    # non-streamed answer may be half generated and billed already).
                    gate.release_probe()
                    if reservation is not None:
                        gate.release(reservation)
                    detail = f"request deadline of {deadline:g}s reached"
                    latency = (self._clock() - t0) * 1000.0
                    self._calls.record(
                        attempts, Attempt(route.ref, DEADLINE, None, latency, detail)
                    )
                    raise DeadlineExceeded(deadline, attempts) from None
                except BaseException:
                    # Cancelled (client gone) or rejected: tells nothing about the model's health.
                    gate.release_probe()
                    if reservation is not None:
                        gate.release(reservation)
                    raise
                if not isinstance(outcome, Retry):
                    return outcome
                # A circuit this failure opened is open in every process before anyone hears of it.
                await gate.written()
                if reservation is not None:
                    gate.release(reservation)
                if outcome.rejection is not None:
                    verdict = _REJECTED
                    rejections.append(outcome.rejection)
                elif outcome.limited:
                    verdict = _LIMITED
                    waits.append(
                        outcome.retry_after
                        if outcome.retry_after is not None
                        else self._backoff.ceiling(retry)
                    )
                else:
                    verdict = _FAILED
                if not outcome.same_model or retry + 1 == self._attempts_per_model:
                    break
                delay = self._backoff.delay(retry, outcome.retry_after)
                await self._sleep(min(delay, max(deadline_at - self._clock(), 0.0)))
            verdicts.append(verdict or _FAILED)
        raise self._chain_error(verdicts, attempts, waits, rejections, missing_keys, routes)

    def _chain_error(
        self,
        verdicts: list[str],
        attempts: list[Attempt],
        waits: list[float],
        rejections: list[UpstreamRejected],
        missing_keys: list[str],
        routes: list[Route],
    ) -> Exception:
        """The error for a chain that found no answer (see the module docstring)."""
        if _FAILED in verdicts:
            return ChainExhausted(attempts)
        if _LIMITED in verdicts:
            return ChainRateLimited(attempts, self._backoff.jittered(min(waits, default=1.0)))
        if rejections:
            # The client can act on "too long"; otherwise the last model's answer.
            chosen = next(
                (r for r in rejections if r.upstream_status in (400, 413)), rejections[-1]
            )
            chosen.attempts = attempts
            return chosen
        providers = [r.provider for r in routes if r.headers is None]
        return ProviderKeyMissing(missing_keys, providers=providers, attempts=attempts)

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
        # Asked for pricing; the usage chunk reaches the client only if it asked (see streaming).
        base["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    else:
        base.pop("stream", None)
        base.pop("stream_options", None)
    return base


def _asked_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _payload(base: dict[str, Any], route: Route) -> bytes:
    """The JSON body for one model: its name, and the answer cap under the name it accepts."""
    body = {**base, "model": route.model}
    field = route.max_tokens_field
    if field is not None:
        other = "max_tokens" if field == "max_completion_tokens" else "max_completion_tokens"
        if other in body:
            value = body.pop(other)
            current = body.get(field)
            if isinstance(current, int) and isinstance(value, int):
                value = min(current, value)
            body[field] = value
    try:
        return orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidRequest(f"request body cannot be encoded: {exc}") from exc
