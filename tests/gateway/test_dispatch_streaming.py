"""Streaming dispatch over real sockets: pass-through as chunks arrive, usage, breaks, cancel."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.gateway_support import BODY, CHAIN, KEY_ENV, MakeHarness
from tierroute.exceptions import ChainExhausted
from tierroute.gateway import sse
from tierroute.gateway.sse import EventSplitter, parse_event


def sse_content(raw: bytes) -> str:
    """The text of an SSE chat stream."""
    text = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data: {"):
            for choice in orjson.loads(line[6:])["choices"]:
                text.append(choice["delta"].get("content") or "")
    return "".join(text)


async def test_chunks_are_passed_through_as_they_arrive(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness(real_clock=True)
    upstream.script(
        "a",
        Reply.ok("one two three four", chunk_delay=0.1, prompt_tokens=40, completion_tokens=4),
    )
    client_body = {**BODY, "stream_options": {"include_usage": False, "other": 1}}
    started = time.monotonic()
    handle = await h.dispatcher.stream(client_body, CHAIN, max_tokens=256)
    arrivals: list[float] = []
    chunks: list[bytes] = []
    async for chunk in handle:
        arrivals.append(time.monotonic() - started)
        chunks.append(chunk)

    # The first bytes were handed over long before the upstream finished (~0.7 s of delays).
    assert arrivals[0] < 0.19  # the first content comes after one 0.1 s delay
    assert arrivals[-1] > 0.6
    assert len(chunks) >= 6  # not buffered into one piece
    assert sse_content(b"".join(chunks)) == "one two three four"
    assert b"".join(chunks).endswith(b"data: [DONE]\n\n")
    assert handle.error is None and handle.model == "fake:a"
    assert (handle.prompt_tokens, handle.completion_tokens) == (40, 4)
    assert handle.cost_usd == pytest.approx(40 * 1e-6 + 4 * 10e-6)
    assert handle.first_byte_ms < handle.upstream_ms
    (seen,) = upstream.seen()
    assert seen.body["stream"] is True
    assert seen.body["stream_options"] == {"include_usage": True, "other": 1}
    assert client_body["stream_options"] == {"include_usage": False, "other": 1}
    assert h.metric("tierroute_upstream_attempts_total", model="fake:a", outcome="ok") == 1
    assert h.metric("tierroute_tokens_total", model="fake:a", kind="prompt") == 40


async def test_errors_before_the_first_byte_are_retried_and_fail_over(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.error(503), Reply.dropped())
    upstream.script("b", Reply.error(429, retry_after=120))
    handle = await h.dispatcher.stream(BODY, CHAIN)
    body = b"".join([chunk async for chunk in handle])
    assert handle.model == "fake:c" and handle.error is None
    assert [(a.model, a.outcome) for a in handle.attempts] == [
        ("fake:a", "http_5xx"),
        ("fake:a", "connect_error"),
        ("fake:b", "http_429"),
        ("fake:c", "ok"),
    ]
    assert sse_content(body) == "Hello from the fake upstream."


async def test_broken_stream_reports_an_error_and_is_not_retried(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.ok("one two three four five", break_after=3))
    handle = await h.dispatcher.stream(BODY, CHAIN)
    received = b"".join([chunk async for chunk in handle])
    assert sse_content(received) == "one two"  # what was sent before the break stays sent
    assert handle.error is not None and "broke" in handle.error
    assert upstream.models_seen() == ["a"]  # no retry, no failover once bytes went out
    (attempt,) = handle.attempts
    assert attempt.outcome == "stream_error" and "bytes" in attempt.detail
    # No usage came: estimated from the prompt (18 chars) and the 7 characters relayed.
    assert (handle.prompt_tokens, handle.completion_tokens) == (5, 2)
    assert handle.cost_estimated and handle.cost_usd == pytest.approx(5e-6 + 2e-5)
    assert (
        h.metric("tierroute_upstream_attempts_total", model="fake:a", outcome="stream_error") == 1
    )
    assert h.metric("tierroute_upstream_attempts_total", model="fake:a", outcome="ok") == 0


async def test_stalled_stream_times_out_with_an_error(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness(
        providers={
            "fake": {"base_url": upstream.base_url, "api_key_env": KEY_ENV, "read_timeout": 0.2}
        }
    )
    upstream.script("a", Reply.ok("one two", stall_after=2, stall=1.0))
    handle = await h.dispatcher.stream(BODY, CHAIN)
    async for _ in handle:
        pass
    assert handle.error is not None and "stalled" in handle.error
    assert upstream.models_seen() == ["a"]


async def test_closing_the_handle_cancels_the_upstream_request(
    upstream: FakeUpstream, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    upstream.script("a", Reply.ok(" ".join(["word"] * 50), chunk_delay=0.2))
    handle = await h.dispatcher.stream(BODY, CHAIN)
    first = await anext(aiter(handle))
    assert first.startswith(b"data: ")
    await handle.aclose()  # the client went away
    assert handle.finished and handle.error == "client disconnected"
    assert handle.attempts[-1].outcome == "cancelled"
    deadline = time.monotonic() + 3
    while upstream.cancelled == 0:
        assert time.monotonic() < deadline, "upstream never saw the cancellation"
        await asyncio.sleep(0.01)
    assert upstream.answered == 0
    assert h.dispatcher.breaker_state("fake:a") == "closed"
    assert [chunk async for chunk in handle] == []  # nothing more after close


async def test_stream_chain_exhausted(upstream: FakeUpstream, make_harness: MakeHarness) -> None:
    h = await make_harness(retry={"attempts_per_model": 1})
    for model in "abc":
        upstream.script(model, Reply.error(502))
    with pytest.raises(ChainExhausted):
        await h.dispatcher.stream(BODY, CHAIN)


def test_events_are_split_whole_and_classified() -> None:
    splitter = EventSplitter()
    assert splitter.feed(b': OPENROUTER PROCESSING\n\ndata: {"choi') == [b": OPENROUTER PROCESSING"]
    (event,) = splitter.feed(b'ces":[{"delta":{"content":"hey"}}],"usage":null}\r\n\r\n')
    parsed = parse_event(event)
    assert (parsed.kind, parsed.chars, parsed.usage) == (sse.CONTENT, 3, None)
    assert parse_event(b": OPENROUTER PROCESSING").kind == sse.COMMENT
    assert parse_event(b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}').kind == (
        sse.ROLE
    )
    usage = parse_event(b'data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}}')
    assert usage.kind == sse.USAGE and usage.usage == {"prompt_tokens": 12, "completion_tokens": 3}
    assert parse_event(b"data:[DONE]").kind == sse.DONE
    assert parse_event(b"data: [DONE]").kind == sse.DONE
    error = parse_event(b'data: {"error":{"message":"overloaded","code":502}}')
    assert error.kind == sse.ERROR and error.error == {"message": "overloaded", "code": 502}
    assert parse_event(b"data: not json").kind == sse.OTHER
    tool = parse_event(
        b'data: {"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]}'
    )
    assert tool.kind == sse.CONTENT and tool.chars == 2
    # A CRLF split across two reads is one line end, not an event boundary.
    assert splitter.feed(b"data: a\r") == []
    assert splitter.feed(b"\ndata: b\r\n\r\n") == [b"data: a\ndata: b"]
    assert splitter.feed(b"data: [DONE]") == []
    assert splitter.rest() == b"data: [DONE]"
