"""A small OpenAI-compatible upstream of our own, scriptable per test, on an ephemeral port.

It plays the providers in tests and benchmarks: ``POST /v1/chat/completions`` (JSON or SSE,
following the request's ``stream``) and ``GET /v1/models``. Each request takes the next scripted
``Reply`` for its ``model`` (``script(model, *replies)``), or the default reply when none is left.
Replies can wait before answering, answer an error status (OpenAI error JSON with ``code`` and
``param``) with Retry-After or retry-after-ms, drop the connection, send a malformed body, stream
slowly, break a stream mid-way (optionally in the middle of an event), send SSE comment lines
before the content (as OpenRouter does), an in-band ``data: {"error": ...}`` event, a chosen
``[DONE]`` line or none; streams end with a usage chunk when the request asked for it
(``stream_options.include_usage``) and the reply has usage.

Use it inside a running event loop (``await fake.start()`` / ``await fake.stop()``), in a
background thread for synchronous code (``with FakeUpstream().running() as fake: ...``), or as a
process for benchmarks::

    python tests/fakes/upstream.py --port 8001 --delay-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one request."""

    status: int = 200
    delay: float = 0.0  # seconds before the status line
    content: str = "Hello from the fake upstream."
    prompt_tokens: int = 11
    completion_tokens: int = 7
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # raw body instead of the generated one (malformed answers)
    drop: bool = False  # close the connection without answering
    chunks: tuple[str, ...] | None = None  # stream pieces; default: the content word by word
    chunk_delay: float = 0.0  # seconds between stream chunks
    break_after: int | None = None  # stream: drop the connection after this many chunks
    usage: bool = True  # include usage (JSON) / the usage chunk (stream, when asked for)
    comments: tuple[str, ...] = ()  # stream: SSE comment lines sent before any data
    comment_delay: float = 0.0  # seconds between those comments
    stream_error: dict[str, Any] | None = None  # stream: in-band {"error": ...} event, then end
    error_after: int = 0  # stream: content events sent before the in-band error
    done: bytes = b"data: [DONE]\n\n"  # stream: the closing line (b"" for none)
    break_mid_event: bool = False  # with break_after: send half of the next event first
    stall_after: int | None = None  # stream: events sent before one long pause
    stall: float = 0.0  # seconds of that pause

    @classmethod
    def ok(cls, content: str = "Hello from the fake upstream.", **kwargs: Any) -> Reply:
        """A normal answer."""
        return cls(content=content, **kwargs)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "scripted error",
        *,
        retry_after: float | str | None = None,
        retry_after_ms: float | str | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        code: str | int | None = -1,
        param: str | None = None,
        error_type: str = "fake_error",
    ) -> Reply:
        """An OpenAI-style error answer, with Retry-After / retry-after-ms when given.

        ``code`` defaults to the status (as a number); pass a string such as
        ``"context_length_exceeded"`` or None.
        """
        all_headers = dict(headers or {})
        if retry_after is not None:
            all_headers["Retry-After"] = str(retry_after)
        if retry_after_ms is not None:
            all_headers["retry-after-ms"] = str(retry_after_ms)
        error = {
            "message": message,
            "type": error_type,
            "param": param,
            "code": status if code == -1 else code,
        }
        body = orjson.dumps({"error": error})
        return cls(status=status, headers=all_headers, body=body, delay=delay)

    @classmethod
    def dropped(cls, delay: float = 0.0) -> Reply:
        """Close the connection without a response."""
        return cls(drop=True, delay=delay)

    @classmethod
    def malformed(cls, body: bytes = b'{"choices": [ this is not json') -> Reply:
        """A 200 whose body is not a chat completion."""
        return cls(body=body)


@dataclass(frozen=True)
class Seen:
    """A request the fake received."""

    model: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


class FakeUpstream:
    """The server; ``base_url`` (``http://127.0.0.1:PORT/v1``) once started."""

    def __init__(self, default: Reply | None = None, *, record: bool = True) -> None:
        self.default = default or Reply()
        self.record = record
        self.requests: list[Seen] = []
        self.cancelled = 0  # requests whose client went away before the answer was complete
        self.answered = 0  # handlers that returned normally
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL to configure as a provider."""
        return f"http://127.0.0.1:{self.port}/v1"

    # ----------------------------------------------------------------------------- scripting
    def script(self, model: str, *replies: Reply) -> None:
        """Queue replies for requests naming ``model`` (served in order, then the default)."""
        with self._lock:
            self._scripts.setdefault(model, deque()).extend(replies)

    def seen(self, model: str | None = None) -> list[Seen]:
        """Requests received so far (for ``model`` only, when given)."""
        with self._lock:
            return [s for s in self.requests if model is None or s.model == model]

    def models_seen(self) -> list[str]:
        """The ``model`` of each request received, in order."""
        return [s.model for s in self.seen()]

    def reset(self) -> None:
        """Forget scripts and recorded requests."""
        with self._lock:
            self._scripts.clear()
            self.requests.clear()
            self.cancelled = 0
            self.answered = 0

    def _next_reply(self, model: str) -> Reply:
        with self._lock:
            queue = self._scripts.get(model)
            return queue.popleft() if queue else self.default

    # ----------------------------------------------------------------------------- serving
    async def start(self, port: int = 0) -> FakeUpstream:
        """Serve on 127.0.0.1 in the running event loop (port 0: any free port)."""
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post(CHAT_PATH, self._chat)
        app.router.add_get("/v1/models", self._models)
        # handler_cancellation: a client that goes away cancels the handler, which we count.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._runner = runner
        return self

    async def stop(self) -> None:
        """Stop serving and close open connections."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @contextlib.contextmanager
    def running(self, port: int = 0) -> Iterator[FakeUpstream]:
        """Serve from a background thread with its own event loop (for synchronous callers)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start(port))
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        thread = threading.Thread(target=serve, name="fake-upstream", daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake upstream did not start")
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    async def _models(self, request: web.Request) -> web.Response:
        with self._lock:
            names = sorted(self._scripts) or ["fake-model"]
        data = [{"id": name, "object": "model", "owned_by": "fake"} for name in names]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return web.json_response({"error": {"message": "bad json"}}, status=400)
        model = str(body.get("model", ""))
        if self.record:
            seen = Seen(model, body, dict(request.headers), time.monotonic())
            with self._lock:
                self.requests.append(seen)
        reply = self._next_reply(model)
        try:
            response = await self._answer(request, reply, model, body)
        except (asyncio.CancelledError, ConnectionResetError):
            with self._lock:
                self.cancelled += 1
            raise
        with self._lock:
            self.answered += 1
        return response

    async def _answer(
        self, request: web.Request, reply: Reply, model: str, body: dict[str, Any]
    ) -> web.StreamResponse:
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            _abort(request)
            return web.Response()
        if reply.body is not None or reply.status != 200:
            return web.Response(
                status=reply.status,
                body=reply.body or b"{}",
                headers=reply.headers,
                content_type="application/json",
            )
        if body.get("stream"):
            options = body.get("stream_options") or {}
            return await self._stream(request, reply, model, bool(options.get("include_usage")))
        return web.Response(
            body=orjson.dumps(self._completion(reply, model)),
            headers=reply.headers,
            content_type="application/json",
        )

    def _completion(self, reply: Reply, model: str) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "finish_reason": "stop",
                }
            ],
        }
        if reply.usage:
            answer["usage"] = _usage(reply)
        return answer

    async def _stream(
        self, request: web.Request, reply: Reply, model: str, include_usage: bool
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers=reply.headers)
        response.content_type = "text/event-stream"
        await response.prepare(request)
        ident = f"chatcmpl-fake-{next(self._ids)}"
        created = int(time.time())

        def event(delta: dict[str, Any], finish: str | None) -> bytes:
            chunk: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if include_usage:
                chunk["usage"] = None  # as OpenAI does: null on every chunk but the last
            return b"data: " + orjson.dumps(chunk) + b"\n\n"

        for index, comment in enumerate(reply.comments):
            if index and reply.comment_delay:
                await asyncio.sleep(reply.comment_delay)
            await response.write(b": " + comment.encode() + b"\n\n")
        if reply.comments and reply.comment_delay:
            await asyncio.sleep(reply.comment_delay)
        pieces = reply.chunks if reply.chunks is not None else _words(reply.content)
        events = [event({"role": "assistant", "content": ""}, None)]
        if reply.stream_error is not None:
            events += [event({"content": piece}, None) for piece in pieces[: reply.error_after]]
            events.append(b"data: " + orjson.dumps({"error": reply.stream_error}) + b"\n\n")
            for data in events:
                await response.write(data)
            await response.write_eof()
            return response
        events += [event({"content": piece}, None) for piece in pieces]
        events.append(event({}, "stop"))
        if include_usage and reply.usage:
            usage_chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": _usage(reply),
            }
            events.append(b"data: " + orjson.dumps(usage_chunk) + b"\n\n")
        if reply.done:
            events.append(reply.done)
        for index, data in enumerate(events):
            if reply.break_after is not None and index >= reply.break_after:
                if reply.break_mid_event:
                    await response.write(data[: len(data) // 2])
                    await asyncio.sleep(0.05)  # let the half event reach the client first
                _abort(request)
                return response
            if index and reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            if index and index == reply.stall_after:
                await asyncio.sleep(reply.stall)
            await response.write(data)
        await response.write_eof()
        return response


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _words(text: str) -> tuple[str, ...]:
    words = text.split(" ")
    return tuple(word if i == 0 else " " + word for i, word in enumerate(words))


def main() -> None:
    """Serve until interrupted: every request answers after ``--delay-ms``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    fake = FakeUpstream(Reply(delay=args.delay_ms / 1000.0), record=False)

    async def serve() -> None:
        await fake.start(args.port)
        print(f"fake upstream at {fake.base_url} (delay {args.delay_ms:g} ms)", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
