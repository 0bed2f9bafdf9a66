"""Chat through the gateway with the official openai SDK: routing, headers, log, costs, metrics."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.e2e.conftest import PROVIDER_KEY
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.live import Gateway
from tierroute.store import get_requests

QUESTION = "Where is my order? It was supposed to arrive yesterday."
MODELS = {"fake:small", "fake:medium", "fake:large", "fake:coder"}
# USD per million tokens, as in tests/support/live.py's config.
PRICES = {"small": (1.0, 2.0), "medium": (3.0, 15.0), "large": (2.0, 8.0), "coder": (0.28, 0.42)}


def cost(model: str, prompt: int, completion: int) -> float:
    price_in, price_out = PRICES[model.partition(":")[2]]
    return (prompt * price_in + completion * price_out) / 1_000_000


def routed_chain(gateway: Gateway, text: str) -> list[str]:
    """The chain the gateway will use for ``text`` (asked through /v1/classify)."""
    return list(gateway.client.post("/v1/classify", json={"text": text}).json()["chain"])


def flushed_rows(
    gateway: Gateway, request_id: str | None = None, *, client: str | None = None
) -> list[dict[str, object]]:
    """Logged rows by the gateway's request id or by the client's own ``x-request-id``."""
    gateway.client.get("/v1/stats/cost")  # flushes the log writer
    return get_requests(gateway.engine, request_id, client_request_id=client)


def test_non_streaming_auto_is_classified_routed_logged_and_priced(
    gateway: Gateway, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    chain = routed_chain(gateway, QUESTION)
    upstream_name = chain[0].partition(":")[2]
    fake.script(upstream_name, Reply.ok("It ships today.", prompt_tokens=120, completion_tokens=30))
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": QUESTION}],
        extra_headers={"x-request-id": "e2e-plain-1"},
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "It ships today."
    assert completion.usage is not None and completion.usage.prompt_tokens == 120
    headers = raw.headers
    tier = headers["x-tierroute-tier"]
    assert gateway.config.chain(tier) == tuple(chain)
    assert 0.0 <= float(headers["x-tierroute-confidence"]) <= 1.0
    assert headers["x-tierroute-fallback"] in {"true", "false"}
    assert headers["x-tierroute-model"] == chain[0]
    assert headers["x-tierroute-attempts"] == "1"
    expected = cost(chain[0], 120, 30)
    assert float(headers["x-tierroute-cost-usd"]) == pytest.approx(expected, abs=1e-8)
    assert 0.0 <= float(headers["x-tierroute-overhead-ms"]) < 1000.0
    assert headers["x-client-request-id"] == "e2e-plain-1"
    assert headers["x-request-id"].startswith("chatcmpl-")  # the gateway's own id
    # The provider got the upstream model name, the tier's max_tokens cap and no gateway key.
    (seen,) = fake.seen(upstream_name)
    assert seen.body["max_tokens"] == gateway.config.tiers[tier].max_tokens
    assert seen.headers["Authorization"] == f"Bearer {PROVIDER_KEY}"
    (row,) = flushed_rows(gateway, client="e2e-plain-1")
    assert row["status"] == 200
    assert row["tier"] == tier
    assert row["model"] == chain[0]
    assert row["requested_model"] == "auto"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (120, 30)
    assert row["cost_usd"] == pytest.approx(expected)
    assert row["attempt_count"] == 1
    assert row["text"] == QUESTION
    assert row["user_key"] and row["route_side"] == "champion"
    assert row["latency_ms"] >= row["upstream_ms"] > 0
    assert row["classify_ms"] > 0


def test_streaming_passes_chunks_through_and_logs_usage(
    gateway: Gateway, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    chain = routed_chain(gateway, QUESTION)
    fake.script(
        chain[0].partition(":")[2],
        Reply.ok("one two three four", prompt_tokens=50, completion_tokens=4),
    )
    with sdk.chat.completions.with_streaming_response.create(
        model="auto",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-request-id": "e2e-stream-1"},
    ) as response:
        headers = response.headers
        pieces: list[str] = []
        usage = None
        for chunk in response.parse():
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            if chunk.usage is not None:
                usage = chunk.usage
    assert "".join(pieces) == "one two three four"
    assert usage is not None and usage.completion_tokens == 4
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["x-tierroute-model"] == chain[0]
    assert headers["x-tierroute-attempts"] == "1"
    assert headers["x-client-request-id"] == "e2e-stream-1"
    assert "x-tierroute-overhead-ms" in headers
    (row,) = flushed_rows(gateway, client="e2e-stream-1")
    assert row["stream"] is True
    assert row["status"] == 200
    assert (row["prompt_tokens"], row["completion_tokens"]) == (50, 4)
    assert row["cost_usd"] == pytest.approx(cost(chain[0], 50, 4))


def test_stream_chunks_arrive_as_the_upstream_sends_them(
    gateway: Gateway, fake: FakeUpstream
) -> None:
    chain = routed_chain(gateway, QUESTION)
    fake.script(chain[0].partition(":")[2], Reply.ok("a b c d", chunk_delay=0.15))
    arrivals: list[float] = []
    start = time.monotonic()
    with gateway.client.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": QUESTION}], "stream": True},
    ) as response:
        assert response.status_code == 200
        for _ in response.iter_raw():
            arrivals.append(time.monotonic() - start)
    # Six upstream events 150 ms apart: the first reaches the client long before the last.
    assert len(arrivals) >= 4
    assert arrivals[-1] - arrivals[0] >= 0.5


def test_models_list_through_the_sdk(sdk: openai.OpenAI) -> None:
    ids = [model.id for model in sdk.models.list()]
    assert ids[0] == "auto"
    assert set(ids[1:]) == MODELS


def test_concrete_model_passes_through_without_classification(
    gateway: Gateway, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="fake:large", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-tierroute-tier"] == "passthrough"
    assert "x-tierroute-confidence" not in raw.headers
    assert raw.headers["x-tierroute-model"] == "fake:large"
    (seen,) = fake.seen("large")
    assert "max_tokens" not in seen.body  # no tier, no cap
    request_id = raw.headers["x-request-id"]
    (row,) = flushed_rows(gateway, request_id)
    assert row["tier"] is None and row["model_id"] is None
    assert row["requested_model"] == "fake:large"


def test_failover_to_the_next_model_of_the_chain(
    gateway: Gateway, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    chain = routed_chain(gateway, QUESTION)
    first, second = (ref.partition(":")[2] for ref in chain)
    fake.script(first, Reply.error(503), Reply.error(503))
    fake.script(second, Reply.ok("from the second model"))
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": QUESTION}]
    )
    assert raw.parse().choices[0].message.content == "from the second model"
    assert raw.headers["x-tierroute-model"] == chain[1]
    assert raw.headers["x-tierroute-attempts"] == "3"
    assert fake.models_seen() == [first, first, second]
    (row,) = flushed_rows(gateway, raw.headers["x-request-id"])
    assert [(a["model"], a["outcome"]) for a in row["attempts"]] == [
        (chain[0], "http_5xx"),
        (chain[0], "http_5xx"),
        (chain[1], "ok"),
    ]
    metrics = gateway.client.get("/metrics").text
    assert f'tierroute_failovers_total{{model="{chain[0]}"}} 1.0' in metrics


def test_exhausted_chain_is_a_503_listing_what_was_tried(
    gateway: Gateway, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    chain = routed_chain(gateway, QUESTION)
    for ref in chain:
        fake.script(ref.partition(":")[2], Reply.error(500), Reply.error(500))
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": QUESTION}],
            extra_headers={"x-request-id": "e2e-exhausted"},
        )
    error = caught.value
    assert error.status_code == 503
    message = str(error.body["message"])  # type: ignore[index]
    assert chain[0] in message and chain[1] in message
    assert error.response.headers["x-tierroute-attempts"] == "2"
    (row,) = flushed_rows(gateway, client="e2e-exhausted")
    assert row["status"] == 503
    assert row["model"] is None
    assert "no upstream model could answer" in str(row["error"])


def test_provider_key_rejected_names_the_provider_never_the_key(
    gateway: Gateway, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    fake.script("large", Reply.error(401, f"Incorrect API key provided: {PROVIDER_KEY}. Check it."))
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(
            model="fake:large",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-request-id": "e2e-401"},
        )
    assert caught.value.status_code == 502
    text = caught.value.response.text
    assert "provider key for provider 'fake' was rejected" in text
    assert PROVIDER_KEY not in text
    (row,) = flushed_rows(gateway, client="e2e-401")
    assert PROVIDER_KEY not in str(row)


def test_upstream_4xx_is_returned_not_retried(
    gateway: Gateway, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    fake.script("large", Reply.error(400, "max_tokens is too large for this model"))
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model="fake:large", messages=[{"role": "user", "content": "hi"}]
        )
    assert "max_tokens is too large" in caught.value.message
    assert fake.models_seen() == ["large"]


def test_stream_broken_midway_ends_with_an_error_event(
    gateway: Gateway, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    fake.script("large", Reply.ok("a b c d e f", break_after=3))
    received: list[str] = []
    with pytest.raises(openai.APIError, match="stream"):
        for chunk in sdk.chat.completions.create(
            model="fake:large",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_headers={"x-request-id": "e2e-broken"},
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received == ["a", " b"]
    assert fake.models_seen() == ["large"]  # never retried once bytes were sent
    (row,) = flushed_rows(gateway, client="e2e-broken")
    assert row["status"] == 502
    assert row["attempts"][-1]["outcome"] == "stream_error"


@pytest.mark.parametrize("stream", [False, True])
def test_client_disconnect_cancels_the_upstream_request(
    gateway: Gateway, fake: FakeUpstream, stream: bool
) -> None:
    if stream:
        fake.script("large", Reply.ok("a b c d e f g h", chunk_delay=0.5))
    else:
        fake.script("large", Reply.ok("slow", delay=3.0))
    body = {"model": "fake:large", "messages": [{"role": "user", "content": "hi"}]}
    request_id = f"e2e-gone-{stream}"
    headers = {"x-request-id": request_id, "Authorization": f"Bearer {gateway.keys[0]}"}
    with httpx.Client(base_url=gateway.url, headers=headers) as client:
        if stream:
            with client.stream(
                "POST", "/v1/chat/completions", json={**body, "stream": True}
            ) as response:
                next(response.iter_raw())  # the first chunk, then hang up
        else:
            with pytest.raises(httpx.ReadTimeout):
                client.post("/v1/chat/completions", json=body, timeout=0.3)
    deadline = time.monotonic() + 5
    while fake.cancelled < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.cancelled == 1
    assert fake.answered == 0
    (row,) = flushed_rows(gateway, client=request_id)
    assert row["status"] == 499
    assert "disconnected" in str(row["error"])


def test_metrics_count_requests_tokens_cost_and_latency(
    gateway: Gateway, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    for _ in range(3):
        sdk.chat.completions.create(model="fake:coder", messages=[{"role": "user", "content": "x"}])
    text = gateway.client.get("/metrics").text
    lines = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert (
        lines['tierroute_requests_total{model="fake:coder",status="200",tier="passthrough"}'] == 3
    )
    assert lines['tierroute_tokens_total{kind="prompt",model="fake:coder"}'] == 33
    assert lines['tierroute_tokens_total{kind="completion",model="fake:coder"}'] == 21
    assert lines['tierroute_cost_usd_total{model="fake:coder"}'] == pytest.approx(
        3 * cost("fake:coder", 11, 7)
    )
    assert lines['tierroute_upstream_attempts_total{model="fake:coder",outcome="ok"}'] == 3
    assert lines["tierroute_overhead_seconds_count"] == 3
    assert lines['tierroute_request_seconds_count{tier="passthrough"}'] == 3


def test_cost_stats_from_the_log(gateway: Gateway, sdk: openai.OpenAI) -> None:
    for model in ("fake:coder", "fake:coder", "fake:large"):
        sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    summary = gateway.client.get("/v1/stats/cost", params={"hours": 1}).json()
    assert summary["total_requests"] == 3
    assert summary["prompt_tokens"] == 33
    by_model = {m["model"]: m for m in summary["by_model"]}
    assert by_model["fake:coder"]["requests"] == 2
    assert by_model["fake:coder"]["cost_usd"] == pytest.approx(2 * cost("fake:coder", 11, 7))
    assert summary["cost_usd"] == pytest.approx(
        2 * cost("fake:coder", 11, 7) + cost("fake:large", 11, 7)
    )
