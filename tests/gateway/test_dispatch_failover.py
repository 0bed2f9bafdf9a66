"""Non-streaming dispatch over real sockets: retries, backoff, failover, breaker, limits, errors."""

from __future__ import annotations

import asyncio
import copy
import random

import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.gateway_support import BODY, CHAIN, KEY, KEY_ENV, MakeHarness, ManualClock
from tierroute.exceptions import (
    ChainExhausted,
    ChainRateLimited,
    DeadlineExceeded,
    ProviderKeyMissing,
    UnknownModel,
    UpstreamRejected,
)
from tierroute.gateway.attempt import Attempt
from tierroute.gateway.backoff import Backoff
from tierroute.service.errors import http_error, http_headers, http_status


def outcomes(attempts: list[Attempt]) -> list[tuple[str, str]]:
    return [(a.model, a.outcome) for a in attempts]


async def test_success_sends_a_fresh_capped_body_with_the_key_and_prices_tokens(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    body = {**copy.deepcopy(BODY), "max_tokens": 1000, "temperature": 0.2}
    before = copy.deepcopy(body)
    upstream.script(
        "a", Reply.ok("Your order ships today.", prompt_tokens=1200, completion_tokens=300)
    )
    result = await h.dispatcher.complete(body, CHAIN, max_tokens=256)

    assert body == before  # the caller's dict is never modified
    assert result.model == "fake:a" and result.status == 200
    assert result.body["choices"][0]["message"]["content"] == "Your order ships today."
    assert (result.prompt_tokens, result.completion_tokens) == (1200, 300)
    # fake:a costs 1 USD per million input tokens and 10 per million output tokens.
    assert result.cost_usd == pytest.approx(1200 * 1e-6 + 300 * 10e-6)
    assert outcomes(result.attempts) == [("fake:a", "ok")]
    (seen,) = upstream.seen()
    assert seen.body["model"] == "a"  # the provider's own name, not "auto"
    assert seen.body["max_tokens"] == 256  # the tier's cap wins over the client's 1000
    assert seen.body["temperature"] == 0.2
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert h.metric("tierroute_upstream_attempts_total", model="fake:a", outcome="ok") == 1
    assert h.metric("tierroute_tokens_total", model="fake:a", kind="completion") == 300
    assert h.metric("tierroute_cost_usd_total", model="fake:a") == pytest.approx(result.cost_usd)


async def test_smaller_client_limit_is_kept(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    await h.dispatcher.complete({**BODY, "max_completion_tokens": 100}, CHAIN, max_tokens=256)
    await h.dispatcher.complete(BODY, CHAIN, max_tokens=256)
    first, second = upstream.seen()
    assert first.body["max_completion_tokens"] == 100 and "max_tokens" not in first.body
    assert second.body["max_tokens"] == 256


async def test_failover_follows_the_chain_in_order_with_bounded_attempts(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.error(503), Reply.error(502))
    upstream.script("b", Reply.error(500))  # not marked retryable: next model at once
    result = await h.dispatcher.complete(BODY, CHAIN)

    assert upstream.models_seen() == ["a", "a", "b", "c"]
    assert result.model == "fake:c"
    assert outcomes(result.attempts) == [
        ("fake:a", "http_5xx"),
        ("fake:a", "http_5xx"),
        ("fake:b", "http_5xx"),
        ("fake:c", "ok"),
    ]
    assert [a.status for a in result.attempts] == [503, 502, 500, 200]
    assert len(h.delays) == 1  # one backoff, between a's two tries; none when failing over
    assert h.metric("tierroute_failovers_total", model="fake:a") == 1
    assert h.metric("tierroute_failovers_total", model="fake:b") == 1
    # Each attempt got a body built for its own model.
    assert [s.body["model"] for s in upstream.seen()] == ["a", "a", "b", "c"]
    assert all(s.body["messages"] == BODY["messages"] for s in upstream.seen())


async def test_500_marked_retryable_is_retried_on_the_same_model(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.error(500, headers={"x-should-retry": "true"}))
    result = await h.dispatcher.complete(BODY, CHAIN)
    assert upstream.models_seen() == ["a", "a"] and result.model == "fake:a"


async def test_backoff_grows_exponentially_with_full_jitter_and_a_cap(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness(retry={"attempts_per_model": 6, "breaker_failures": 10})
    upstream.script("a", *[Reply.error(503)] * 5)
    result = await h.dispatcher.complete(BODY, CHAIN)

    assert result.model == "fake:a" and len(result.attempts) == 6
    # Same seed as the harness: the exact delays the dispatcher must have asked for.
    reference = Backoff(0.1, 0.4, random.Random(7))
    assert h.delays == [reference.delay(n) for n in range(5)]
    ceilings = [0.1, 0.2, 0.4, 0.4, 0.4]
    assert all(0 <= d <= c for d, c in zip(h.delays, ceilings, strict=True))


async def test_short_retry_after_is_honored(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.error(429, "slow down", retry_after=1.5))
    result = await h.dispatcher.complete(BODY, CHAIN)
    (delay,) = h.delays
    assert 1.5 <= delay <= 1.65  # honoured, with up to 10 % jitter
    assert outcomes(result.attempts) == [("fake:a", "http_429"), ("fake:a", "ok")]
    assert "Retry-After 1.5s" in result.attempts[0].detail


async def test_long_retry_after_fails_over_at_once_and_rests_the_model(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    assert isinstance(h.clock, ManualClock)
    upstream.script("a", Reply.error(429, retry_after=60))
    result = await h.dispatcher.complete(BODY, CHAIN)
    assert h.delays == [] and result.model == "fake:b"
    assert upstream.models_seen() == ["a", "b"]
    assert h.dispatcher.breaker_state("fake:a") == "open"

    second = await h.dispatcher.complete(BODY, CHAIN)  # a is not asked again while resting
    assert outcomes(second.attempts) == [("fake:a", "circuit_open"), ("fake:b", "ok")]
    assert upstream.models_seen() == ["a", "b", "b"]

    h.clock.advance(60)  # not forever: after the Retry-After, a is probed and closes again
    third = await h.dispatcher.complete(BODY, CHAIN)
    assert third.model == "fake:a"
    assert h.dispatcher.breaker_state("fake:a") == "closed"


async def test_breaker_opens_after_n_failures_probes_after_cooldown_and_closes(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness(
        retry={"attempts_per_model": 1, "breaker_failures": 2, "breaker_cooldown": 30.0}
    )
    assert isinstance(h.clock, ManualClock)
    upstream.script("a", Reply.error(503), Reply.error(503), Reply.error(503))
    await h.dispatcher.complete(BODY, CHAIN)
    assert h.dispatcher.breaker_state("fake:a") == "closed"
    await h.dispatcher.complete(BODY, CHAIN)
    assert h.dispatcher.breaker_state("fake:a") == "open"
    assert h.metric("tierroute_circuit_state", model="fake:a") == 2.0

    skipped = await h.dispatcher.complete(BODY, CHAIN)
    assert outcomes(skipped.attempts)[0] == ("fake:a", "circuit_open")
    assert upstream.models_seen().count("a") == 2  # no request reached a while open

    h.clock.advance(30)
    assert h.dispatcher.breaker_state("fake:a") == "half_open"
    failed_probe = await h.dispatcher.complete(BODY, CHAIN)  # the third scripted 503
    assert outcomes(failed_probe.attempts)[0] == ("fake:a", "http_5xx")
    assert h.dispatcher.breaker_state("fake:a") == "open"

    h.clock.advance(30)
    probe = await h.dispatcher.complete(BODY, CHAIN)
    assert probe.model == "fake:a"
    assert h.dispatcher.breaker_state("fake:a") == "closed"
    assert h.metric("tierroute_circuit_state", model="fake:a") == 0.0


async def test_model_at_its_rpm_limit_is_skipped_without_using_other_models_slots(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness(
        limits={"fake:a": {"rpm": 1}, "fake:b": {"rpm": 1}, "fake:c": {"rpm": 1}}
    )
    first = await h.dispatcher.complete(BODY, CHAIN)
    second = await h.dispatcher.complete(BODY, CHAIN)
    third = await h.dispatcher.complete(BODY, CHAIN)
    assert [first.model, second.model, third.model] == ["fake:a", "fake:b", "fake:c"]
    assert outcomes(third.attempts) == [
        ("fake:a", "rate_limited"),
        ("fake:b", "rate_limited"),
        ("fake:c", "ok"),
    ]
    with pytest.raises(ChainRateLimited) as info:
        await h.dispatcher.complete(BODY, CHAIN)
    assert [a.outcome for a in info.value.attempts] == ["rate_limited"] * 3
    assert http_status(info.value) == 429
    assert 60 <= info.value.retry_after <= 67  # the oldest slot frees in 60 s, plus jitter
    assert http_headers(info.value) == {"Retry-After": str(info.value.retry_after)}
    assert upstream.models_seen() == ["a", "b", "c"]  # limited models were never called

    assert isinstance(h.clock, ManualClock)
    h.clock.advance(60)  # the window moved on; nobody waited on it
    assert (await h.dispatcher.complete(BODY, CHAIN)).model == "fake:a"


async def test_tpm_limit_uses_reported_usage(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness(limits={"fake:a": {"tpm": 1000}})
    upstream.script("a", Reply.ok(prompt_tokens=900, completion_tokens=50))
    first = await h.dispatcher.complete(BODY, CHAIN, max_tokens=256)
    second = await h.dispatcher.complete(BODY, CHAIN, max_tokens=256)
    assert first.model == "fake:a"
    # 950 of 1000 tokens were used: the next estimate (prompt + 256 cap) does not fit.
    assert outcomes(second.attempts) == [("fake:a", "rate_limited"), ("fake:b", "ok")]


async def test_4xx_is_returned_with_the_provider_message_and_not_retried(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.error(400, "temperature must be <= 2"))
    with pytest.raises(UpstreamRejected) as info:
        await h.dispatcher.complete(BODY, CHAIN)
    assert http_status(info.value) == 400
    assert "temperature must be <= 2" in info.value.message
    assert upstream.models_seen() == ["a"]
    assert outcomes(info.value.attempts) == [("fake:a", "http_4xx")]
    assert h.dispatcher.breaker_state("fake:a") == "closed"


async def test_rejected_provider_key_is_explained_without_the_key(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script(
        "a", Reply.error(401, f"Incorrect API key provided: {KEY}. Check it at the dashboard.")
    )
    with pytest.raises(UpstreamRejected) as info:
        await h.dispatcher.complete(BODY, ["fake:a"])
    error = info.value
    assert http_status(error) == 502  # our provider key, not the client's gateway key
    assert http_error(error).code == "provider_key_rejected"
    assert "the provider key for provider 'fake' was rejected" in error.message
    assert "Incorrect API key provided" in error.message
    everything = str(error) + repr(error.attempts) + error.provider_message
    assert KEY not in everything and KEY[:12] not in everything
    assert upstream.models_seen() == ["a"]


async def test_unknown_model_at_the_provider(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.error(404, "The model `a` does not exist"))
    with pytest.raises(UpstreamRejected) as info:
        await h.dispatcher.complete(BODY, ["fake:a"])
    assert http_status(info.value) == 404 and "does not know the model" in info.value.message


async def test_missing_provider_key_names_the_provider_not_the_variable(
    upstream: FakeUpstream, make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="tierroute.gateway.dispatch"):
        h = await make_harness(environ={})
    assert KEY_ENV in caplog.text  # the operator learns which variable, in the server log
    with pytest.raises(ProviderKeyMissing) as info:
        await h.dispatcher.complete(BODY, CHAIN)
    assert http_status(info.value) == 503
    assert "'fake'" in info.value.message
    assert KEY_ENV not in info.value.message + repr(info.value.attempts)
    assert [a.outcome for a in info.value.attempts] == ["key_missing"] * 3
    assert upstream.seen() == []


async def test_malformed_answer_fails_over(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.malformed())
    upstream.script("b", Reply.malformed(b'{"object": "not a completion"}'))
    result = await h.dispatcher.complete(BODY, CHAIN)
    assert outcomes(result.attempts) == [
        ("fake:a", "malformed"),
        ("fake:b", "malformed"),
        ("fake:c", "ok"),
    ]


async def test_dropped_connection_is_retried(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.dropped())
    result = await h.dispatcher.complete(BODY, CHAIN)
    assert outcomes(result.attempts) == [("fake:a", "connect_error"), ("fake:a", "ok")]
    assert "dropped" in result.attempts[0].detail


async def test_connection_refused_fails_over(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    dead = await FakeUpstream().start()
    dead_url = dead.base_url
    await dead.stop()  # nothing listens there any more
    h = await make_harness(
        providers={"down": {"base_url": dead_url}},
        tiers={"moderate_conv": {"models": ["down:x", "fake:a"]}},
        prices={},
    )
    result = await h.dispatcher.complete(BODY, ["down:x", "fake:a"])
    assert outcomes(result.attempts) == [
        ("down:x", "connect_error"),
        ("down:x", "connect_error"),
        ("fake:a", "ok"),
    ]
    assert "cannot connect" in result.attempts[0].detail


async def test_slow_answer_is_waited_for_not_cut_off_and_billed_twice(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    # The read timeout is for streams; a non-streamed answer arrives whole, after generation.
    h = await make_harness(
        real_clock=True,
        providers={
            "fake": {"base_url": upstream.base_url, "api_key_env": KEY_ENV, "read_timeout": 0.2}
        },
    )
    upstream.script("a", Reply.ok("long answer", delay=0.8))
    result = await h.dispatcher.complete(BODY, CHAIN)
    assert result.body["choices"][0]["message"]["content"] == "long answer"
    assert outcomes(result.attempts) == [("fake:a", "ok")]
    assert upstream.models_seen() == ["a"]  # sent once, billed once


async def test_deadline_ends_the_request_without_another_attempt(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness(
        real_clock=True,
        upstream={"deadline": 5.0},
        tiers={
            "moderate_conv": {"models": list(CHAIN), "deadline": 0.3},
            "simple_faq": {"models": list(CHAIN)},
        },
    )
    upstream.script("a", Reply.ok(delay=2.0))
    with pytest.raises(DeadlineExceeded) as info:
        await h.dispatcher.complete(BODY, CHAIN, tier="moderate_conv")
    assert http_status(info.value) == 504 and info.value.deadline == 0.3
    assert outcomes(info.value.attempts) == [("fake:a", "deadline")]
    assert upstream.models_seen() == ["a"]
    assert h.dispatcher.breaker_state("fake:a") == "closed"  # the deadline, not the model
    # Another tier without its own deadline uses upstream.deadline (5 s): the answer comes.
    upstream.script("a", Reply.ok("in time", delay=0.5))
    result = await h.dispatcher.complete(BODY, CHAIN, tier="simple_faq")
    assert result.body["choices"][0]["message"]["content"] == "in time"


async def test_pool_acquire_timeout_fails_over(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness(real_clock=True, upstream={"max_connections": 1, "pool_timeout": 0.2})
    upstream.script("a", Reply.ok("holds the only connection", delay=1.0))
    slow = asyncio.create_task(h.dispatcher.complete(BODY, ["fake:a"]))
    await asyncio.sleep(0.1)
    with pytest.raises(ChainExhausted) as info:
        await h.dispatcher.complete(BODY, ["fake:b"])
    assert outcomes(info.value.attempts) == [("fake:b", "timeout"), ("fake:b", "timeout")]
    assert "pool" in info.value.attempts[0].detail
    assert (await slow).model == "fake:a"


async def test_exhausted_chain_lists_every_model_and_reason(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    for model in "abc":
        upstream.script(model, Reply.error(503), Reply.error(503))
    with pytest.raises(ChainExhausted) as info:
        await h.dispatcher.complete(BODY, CHAIN)
    assert http_status(info.value) == 503 and len(info.value.attempts) == 6
    for model in CHAIN:
        assert f"{model}: http_5xx (HTTP 503)" in info.value.message


async def test_unconfigured_model_in_the_chain(make_harness: MakeHarness) -> None:
    h = await make_harness()
    with pytest.raises(UnknownModel) as info:
        await h.dispatcher.complete(BODY, ["fake:zzz"])
    assert http_status(info.value) == 404 and "fake:a" in info.value.message


async def test_cancelling_the_call_cancels_the_upstream_request(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.ok(delay=5.0))
    task = asyncio.create_task(h.dispatcher.complete(BODY, CHAIN))
    await _until(lambda: len(upstream.seen()) == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _until(lambda: upstream.cancelled == 1)
    assert upstream.answered == 0
    assert h.dispatcher.breaker_state("fake:a") == "closed"


async def _until(condition: object, timeout: float = 3.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
