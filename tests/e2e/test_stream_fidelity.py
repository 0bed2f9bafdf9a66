"""Streams through the gateway look like OpenAI's to the official SDK, and are never free.

The gateway under uvicorn, the fake upstream, ``openai.OpenAI`` with its plain
``for chunk in stream: chunk.choices[0].delta.content`` loop.
"""

from __future__ import annotations

import threading
import time

import httpx
import openai
import orjson
import pytest

from tests.e2e.conftest import GATEWAY_KEY
from tests.e2e.test_failover_classes import SAME_CHAINS
from tests.e2e.tuned import HELLO, TuneGateway, tuned
from tests.fakes.upstream import FakeUpstream, Reply

__all__ = ["tuned"]

# USD per million tokens of fake:large in tests/support/live.py's config.
LARGE_IN, LARGE_OUT = 2.0, 8.0


def plain_loop(sdk: openai.OpenAI, request_id: str, model: str = "fake:large") -> str:
    """What most client code does: no stream_options, ``choices[0]`` on every chunk."""
    stream = sdk.chat.completions.create(
        model=model, messages=HELLO, stream=True, extra_headers={"x-request-id": request_id}
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream)


def test_plain_sdk_loop_works_and_the_usage_still_prices_the_row(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("large", Reply.ok("one two three", prompt_tokens=30, completion_tokens=3))
    with tuned(fake.base_url) as gw:
        assert plain_loop(gw.sdk, "plain-1") == "one two three"
        row = gw.row("plain-1")
    (seen,) = fake.seen("large")
    assert seen.body["stream_options"] == {"include_usage": True}  # asked for, for the cost
    assert row["status"] == 200 and row["cost_estimated"] is False
    assert (row["prompt_tokens"], row["completion_tokens"]) == (30, 3)
    assert row["cost_usd"] == pytest.approx((30 * LARGE_IN + 3 * LARGE_OUT) / 1e6)


def test_usage_chunk_is_relayed_when_the_client_asks(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("large", Reply.ok("a b", prompt_tokens=9, completion_tokens=2))
    with tuned(fake.base_url) as gw:
        chunks = list(
            gw.sdk.chat.completions.create(
                model="fake:large",
                messages=HELLO,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 2


def test_comments_then_an_in_band_error_before_content_fail_over(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    overloaded = {"message": "Provider overloaded", "code": 502}
    fake.script(
        "medium",
        Reply.ok(
            comments=("OPENROUTER PROCESSING",) * 3, comment_delay=0.05, stream_error=overloaded
        ),
    )
    with tuned(fake.base_url, replace=SAME_CHAINS) as gw:
        text = plain_loop(gw.sdk, "inband-1", model="auto")
        row = gw.row("inband-1")
    assert text == "Hello from the fake upstream."
    assert [(a["model"], a["outcome"]) for a in row["attempts"]] == [
        ("fake:medium", "error_event"),
        ("fake:large", "ok"),
    ]


def test_comments_alone_do_not_commit_a_stream(tuned: TuneGateway, fake: FakeUpstream) -> None:
    fake.reset()
    # Keep-alives, then the connection drops before any content: still free to fail over.
    cut = Reply.ok(comments=("ping",) * 2, break_after=0)
    fake.script("medium", cut, cut)
    with tuned(fake.base_url, replace=SAME_CHAINS) as gw:
        assert plain_loop(gw.sdk, "comments-1", model="auto") == "Hello from the fake upstream."
        row = gw.row("comments-1")
    assert row["status"] == 200 and row["model"] == "fake:large"


def test_done_without_a_space_ends_the_stream_cleanly(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("large", Reply.ok("x y", done=b"data:[DONE]\n\n"))
    with tuned(fake.base_url) as gw:
        assert plain_loop(gw.sdk, "done-1") == "x y"
        row = gw.row("done-1")
    assert row["status"] == 200 and row["error"] is None


def test_a_stream_cut_mid_event_ends_with_an_error_event_on_its_own_boundary(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("large", Reply.ok("a b c d e f", break_after=3, break_mid_event=True))
    fake.script("large", Reply.ok("a b c d e f", break_after=3, break_mid_event=True))
    with tuned(fake.base_url) as gw:
        received: list[str] = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in gw.sdk.chat.completions.create(
                model="fake:large",
                messages=HELLO,
                stream=True,
                extra_headers={"x-request-id": "cut-1"},
            ):
                received.append(chunk.choices[0].delta.content or "")
        raw = gw.http.post(
            "/v1/chat/completions",
            json={"model": "fake:large", "messages": HELLO, "stream": True},
        ).content
        row = gw.row("cut-1")
    assert "".join(received) == "a b" and "broke" in caught.value.message
    events = [event for event in raw.split(b"\n\n") if event]
    assert all(event.startswith(b"data: ") for event in events)
    last = orjson.loads(events[-1][6:])
    assert last["error"]["code"] == "stream_broken"
    for event in events[:-1]:
        assert orjson.loads(event[6:])["choices"]  # every relayed event is whole
    assert row["status"] == 502 and row["cost_estimated"] is True
    # Prompt "hi" ~1 token, "a b" relayed ~1 token: estimated, never $0.
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1, 1)
    assert row["cost_usd"] == pytest.approx((LARGE_IN + LARGE_OUT) / 1e6)


def test_stream_without_usage_is_estimated(tuned: TuneGateway, fake: FakeUpstream) -> None:
    fake.reset()
    fake.script("large", Reply.ok("x" * 400, usage=False))
    with tuned(fake.base_url) as gw:
        assert plain_loop(gw.sdk, "nousage-1") == "x" * 400
        row = gw.row("nousage-1")
    assert row["status"] == 200 and row["cost_estimated"] is True
    assert row["completion_tokens"] == 100 and row["cost_usd"] > 0


def test_client_leaving_mid_stream_is_billed_for_what_was_relayed(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("large", Reply.ok(" ".join(["word"] * 40), chunk_delay=0.1))
    with tuned(fake.base_url) as gw:
        headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "x-request-id": "gone-1"}
        body = {"model": "fake:large", "messages": HELLO, "stream": True}
        with (
            httpx.Client(base_url=gw.url, headers=headers) as client,
            client.stream("POST", "/v1/chat/completions", json=body) as response,
        ):
            seen = b""
            for piece in response.iter_raw():
                seen += piece
                if seen.count(b"word") >= 8:
                    break
        deadline = time.monotonic() + 5
        while fake.cancelled < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        row = gw.row("gone-1")
    assert row["status"] == 499 and row["cost_estimated"] is True
    assert row["completion_tokens"] >= 8 and row["cost_usd"] > 0


def test_half_open_probe_succeeds_at_first_content(tuned: TuneGateway, fake: FakeUpstream) -> None:
    fake.reset()
    fake.script("large", *[Reply.error(500, "down")] * 3)
    fake.script("large", Reply.ok(" ".join(["slow"] * 12), chunk_delay=0.25))
    with tuned(fake.base_url) as gw:
        for _ in range(3):  # breaker_failures = 3
            with pytest.raises(openai.InternalServerError):
                gw.sdk.chat.completions.create(model="fake:large", messages=HELLO)
        time.sleep(0.6)  # breaker_cooldown = 0.5: the next request is the probe
        first_content = threading.Event()

        def probe() -> None:
            for chunk in gw.sdk.chat.completions.create(
                model="fake:large", messages=HELLO, stream=True
            ):
                if chunk.choices[0].delta.content:
                    first_content.set()

        thread = threading.Thread(target=probe)
        thread.start()
        assert first_content.wait(5)
        # The probe's stream runs on for ~3 s; its first content already closed the circuit.
        answer = gw.sdk.chat.completions.create(model="fake:large", messages=HELLO)
        assert answer.choices[0].message.content == "Hello from the fake upstream."
        assert thread.is_alive()
        thread.join(10)
