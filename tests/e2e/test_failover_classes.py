"""Which provider failures fail over, which come back to the client, and how limits answer.

The gateway under uvicorn, the fake upstream, the official openai SDK. Every tier's chain is
made ``fake:medium`` then ``fake:large`` so that ``model="auto"`` fails over predictably.
"""

from __future__ import annotations

import time

import openai
import pytest

from tests.e2e.conftest import PROVIDER_KEY, PROVIDER_KEY_ENV
from tests.e2e.tuned import HELLO, TuneGateway, tuned
from tests.fakes.upstream import FakeUpstream, Reply

__all__ = ["tuned"]

SAME_CHAINS = {
    'models = ["fake:small", "fake:medium"]': 'models = ["fake:medium", "fake:large"]',
    'models = ["fake:large", "fake:medium"]': 'models = ["fake:medium", "fake:large"]',
    'models = ["fake:coder", "fake:large"]': 'models = ["fake:medium", "fake:large"]',
    '[prices."fake:small"]\ninput = 1.0\noutput = 2.0\n': "",
    '[prices."fake:coder"]\ninput = 0.28\noutput = 0.42\n': "",
}


def outcomes(row: dict[str, object]) -> list[tuple[str, str]]:
    return [(a["model"], a["outcome"]) for a in row["attempts"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (Reply.error(401, f"Incorrect API key provided: {PROVIDER_KEY}"), "auth_error"),
        (Reply.error(403, "key revoked", code="permission_denied"), "auth_error"),
        (Reply.error(402, "Insufficient credits", code=402), "no_credit"),
        (
            Reply.error(404, "The model `medium` does not exist", code="model_not_found"),
            "model_not_found",
        ),
        (Reply.error(408, "request timed out"), "timeout"),
        (
            Reply.error(
                400,
                "This model's maximum context length is 8192 tokens.",
                code="context_length_exceeded",
                param="messages",
                error_type="invalid_request_error",
            ),
            "context_too_long",
        ),
        (
            Reply.error(413, "prompt is too long: 210000 tokens > 200000 maximum", code=None),
            "context_too_long",
        ),
    ],
)
def test_provider_failures_the_next_model_can_fix_fail_over(
    tuned: TuneGateway, fake: FakeUpstream, reply: Reply, outcome: str
) -> None:
    fake.reset()
    fake.script("medium", reply, reply)
    with tuned(fake.base_url, replace=SAME_CHAINS) as gw:
        raw = gw.sdk.chat.completions.with_raw_response.create(
            model="auto", messages=HELLO, extra_headers={"x-request-id": f"fo-{outcome}"}
        )
        assert raw.parse().choices[0].message.content == "Hello from the fake upstream."
        assert raw.headers["x-tierroute-model"] == "fake:large"
        row = gw.row(f"fo-{outcome}")
    assert row["status"] == 200
    assert outcomes(row)[0] == ("fake:medium", outcome)
    assert outcomes(row)[-1] == ("fake:large", "ok")
    assert PROVIDER_KEY not in str(row)


def test_revoked_key_counts_in_the_breaker(tuned: TuneGateway, fake: FakeUpstream) -> None:
    fake.reset()
    fake.script("medium", *[Reply.error(401, "invalid key")] * 3)
    with tuned(fake.base_url, replace=SAME_CHAINS) as gw:
        for i in range(4):
            gw.sdk.chat.completions.create(
                model="auto", messages=HELLO, extra_headers={"x-request-id": f"revoked-{i}"}
            )
        fourth = gw.row("revoked-3")
        metrics = gw.metrics()
    # breaker_failures = 3: after three rejected keys the model rests instead of being asked.
    assert outcomes(fourth) == [("fake:medium", "circuit_open"), ("fake:large", "ok")]
    assert fake.models_seen().count("medium") == 3
    assert 'tierroute_circuit_state{model="fake:medium"} 2.0' in metrics


def test_the_clients_own_bad_request_comes_back_with_code_and_param(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    bad = Reply.error(
        400,
        "Invalid value for 'temperature': must be <= 2.",
        code="invalid_value",
        param="temperature",
        error_type="invalid_request_error",
    )
    fake.script("medium", bad)
    with (
        tuned(fake.base_url, replace=SAME_CHAINS) as gw,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        gw.sdk.chat.completions.create(model="auto", messages=HELLO, temperature=2.5)
    assert caught.value.code == "invalid_value"
    assert caught.value.param == "temperature"
    assert "must be <= 2" in caught.value.message
    assert fake.models_seen() == ["medium"]  # not failed over: the next model would refuse too


def test_context_too_long_everywhere_returns_the_providers_code(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    too_long = Reply.error(
        400,
        "This model's maximum context length is 8192 tokens.",
        code="context_length_exceeded",
        param="messages",
    )
    fake.script("medium", too_long)
    fake.script("large", too_long)
    with (
        tuned(fake.base_url, replace=SAME_CHAINS) as gw,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        gw.sdk.chat.completions.create(model="auto", messages=HELLO)
    assert caught.value.status_code == 400
    assert (caught.value.code, caught.value.param) == ("context_length_exceeded", "messages")
    assert fake.models_seen() == ["medium", "large"]


def test_every_model_limited_is_429_with_retry_after(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    extra = '\n[limits."fake:large"]\nrpm = 1\n'
    with tuned(fake.base_url, extra=extra) as gw:
        gw.sdk.chat.completions.create(model="fake:large", messages=HELLO)
        with pytest.raises(openai.RateLimitError) as caught:
            gw.sdk.chat.completions.create(model="fake:large", messages=HELLO)
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert 55 <= int(caught.value.response.headers["Retry-After"]) <= 67
    assert fake.models_seen() == ["large"]


@pytest.mark.parametrize(
    "retry_after",
    ["inf", "1e400", "Mon, 01 Jan 2035 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"],
)
def test_absurd_retry_after_rests_a_model_for_the_cap_only(
    tuned: TuneGateway, fake: FakeUpstream, retry_after: str
) -> None:
    fake.reset()
    fake.script("large", Reply.error(429, "slow down", retry_after=retry_after))
    replace = {"max_retry_after = 1.0": "max_retry_after = 1.0\nretry_after_cap = 1.5"}
    with tuned(fake.base_url, replace=replace) as gw:
        with pytest.raises(openai.RateLimitError) as caught:
            gw.sdk.chat.completions.create(model="fake:large", messages=HELLO)
        assert 1 <= int(caught.value.response.headers["Retry-After"]) <= 2
        time.sleep(1.8)  # the capped rest (1.5 s, + jitter) is over: the model answers again
        answer = gw.sdk.chat.completions.create(model="fake:large", messages=HELLO)
    assert answer.choices[0].message.content == "Hello from the fake upstream."


def test_retry_after_ms_is_honoured(tuned: TuneGateway, fake: FakeUpstream) -> None:
    fake.reset()
    fake.script("large", Reply.error(429, "slow down", retry_after=30, retry_after_ms=150))
    with tuned(fake.base_url) as gw:
        started = time.monotonic()
        raw = gw.sdk.chat.completions.with_raw_response.create(model="fake:large", messages=HELLO)
        elapsed = time.monotonic() - started
    assert raw.headers["x-tierroute-attempts"] == "2"  # retried on the same model...
    assert 0.15 <= elapsed < 2.0  # ...after 150 ms, not 30 s
    first, second = fake.seen("large")
    assert second.at - first.at >= 0.15


def test_failed_attempts_give_their_tokens_back(tuned: TuneGateway, fake: FakeUpstream) -> None:
    fake.reset()
    fake.script("large", Reply.error(500, "boom"))
    prompt = [{"role": "user", "content": "x" * 40}]  # estimated at 11 tokens
    extra = '\n[limits."fake:large"]\ntpm = 15\n'
    with tuned(fake.base_url, extra=extra) as gw:
        with pytest.raises(openai.InternalServerError):
            gw.sdk.chat.completions.create(model="fake:large", messages=prompt)
        answer = gw.sdk.chat.completions.create(model="fake:large", messages=prompt)
    assert answer.choices[0].message.content == "Hello from the fake upstream."


def test_max_completion_tokens_for_models_that_want_it(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    extra = '\n[models."fake:large"]\nmax_tokens_field = "max_completion_tokens"\n'
    with tuned(fake.base_url, extra=extra) as gw:
        gw.sdk.chat.completions.create(model="fake:large", messages=HELLO, max_tokens=100)
        gw.sdk.chat.completions.create(model="fake:medium", messages=HELLO, max_tokens=100)
    (large,) = fake.seen("large")
    (medium,) = fake.seen("medium")
    assert large.body["max_completion_tokens"] == 100 and "max_tokens" not in large.body
    assert medium.body["max_tokens"] == 100 and "max_completion_tokens" not in medium.body


def test_internal_addresses_and_variable_names_stay_in_the_server_log(
    tuned: TuneGateway, caplog: pytest.LogCaptureFixture
) -> None:
    dead = FakeUpstream()
    with dead.running():
        dead_url = dead.base_url
    port = dead_url.split(":")[2].split("/")[0]
    with (
        caplog.at_level("INFO", logger="tierroute.gateway.calls"),
        tuned(dead_url) as gw,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        gw.sdk.chat.completions.create(model="fake:large", messages=HELLO)
    text = caught.value.response.text
    assert caught.value.status_code == 503
    assert "cannot connect (connection refused)" in text
    assert "127.0.0.1" not in text and port not in text and PROVIDER_KEY_ENV not in text
    assert "Connect call failed" in caplog.text  # the operator still sees where
