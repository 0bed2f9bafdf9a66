"""Time limits through the gateway: a request deadline (global and per tier), and a read
timeout that cuts stalled streams but never a slow non-streamed answer (which would be billed
twice when retried)."""

from __future__ import annotations

import time

import openai
import pytest

from tests.e2e.test_failover_classes import SAME_CHAINS
from tests.e2e.tuned import HELLO, TuneGateway, tuned
from tests.fakes.upstream import FakeUpstream, Reply

__all__ = ["tuned"]

SHORT_READ = {"read_timeout = 5.0": "read_timeout = 0.3"}


def test_slow_non_streamed_answer_is_not_cut_off_and_rebilled(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("large", Reply.ok("a long, considered answer", delay=1.2))
    with tuned(fake.base_url, replace=SHORT_READ) as gw:
        raw = gw.sdk.chat.completions.with_raw_response.create(model="fake:large", messages=HELLO)
    assert raw.parse().choices[0].message.content == "a long, considered answer"
    assert raw.headers["x-tierroute-attempts"] == "1"
    assert fake.models_seen() == ["large"]  # sent once: billed once


def test_stalled_stream_is_still_cut_by_the_read_timeout(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("large", Reply.ok("one two three", stall_after=2, stall=2.0))
    with (
        tuned(fake.base_url, replace=SHORT_READ) as gw,
        pytest.raises(openai.APIError, match="stalled"),
    ):
        for _ in gw.sdk.chat.completions.create(model="fake:large", messages=HELLO, stream=True):
            pass


def test_tier_deadline_answers_504_without_another_attempt(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("medium", Reply.ok(delay=3.0))
    replace = {
        **SAME_CHAINS,
        "max_tokens = 512": "max_tokens = 512\ndeadline = 0.5",
        "max_tokens = 2048": "max_tokens = 2048\ndeadline = 0.5",
        "max_tokens = 4096": "max_tokens = 4096\ndeadline = 0.5",
    }
    with tuned(fake.base_url, replace=replace) as gw:
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as caught:
            gw.sdk.chat.completions.create(
                model="auto", messages=HELLO, extra_headers={"x-request-id": "deadline-1"}
            )
        elapsed = time.monotonic() - started
        row = gw.row("deadline-1")
    assert caught.value.status_code == 504
    assert caught.value.code == "deadline_exceeded"  # type: ignore[attr-defined]
    assert elapsed < 2.0
    assert fake.models_seen() == ["medium"]  # the deadline ends the request: no failover
    assert [a["outcome"] for a in row["attempts"]] == ["deadline"]


def test_global_deadline_bounds_a_stream_until_its_first_content(
    tuned: TuneGateway, fake: FakeUpstream
) -> None:
    fake.reset()
    # Keep-alive comments for 2 s and no content: the read timeout never fires, the deadline does.
    fake.script("large", Reply.ok(comments=("PROCESSING",) * 20, comment_delay=0.1))
    extra = "\n[upstream]\ndeadline = 0.6\n"
    with tuned(fake.base_url, extra=extra) as gw, pytest.raises(openai.APIStatusError) as caught:
        for _ in gw.sdk.chat.completions.create(model="fake:large", messages=HELLO, stream=True):
            pass
    assert caught.value.status_code == 504
