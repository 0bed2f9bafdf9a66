"""``POST /v1/chat/completions``: classify (``model="auto"``) or pass through, dispatch, log.

The hot path: the body is parsed once by hand, the answer goes back as the provider's bytes
(non-streaming: the body as received; streaming: each SSE chunk as it arrives), and the log row is
queued for the background writer. Response headers say how the request was routed:
``x-tierroute-tier`` (``passthrough`` for a concrete model), ``-confidence`` and ``-fallback``
(routed requests), ``-model``, ``-attempts``, ``-cost-usd`` (non-streaming; a stream's cost is
known only at its end and goes to the log and metrics), ``-overhead-ms`` (time the gateway
added: total minus time waiting on the provider), ``x-request-id`` (the gateway's id, for
feedback) and ``x-client-request-id`` (the client's own id, when it sent one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute
from starlette.types import Receive, Scope, Send

from tierroute.exceptions import GatewayError
from tierroute.gateway.attempt import Attempt
from tierroute.gateway.dispatch import StreamHandle
from tierroute.gateway.sse import error_event
from tierroute.redact import redact
from tierroute.service.deps import check_api_key, service_state
from tierroute.service.disconnect import ClientGone, DisconnectGuard
from tierroute.service.errors import gateway_error_response, http_status
from tierroute.service.offload import run_sized
from tierroute.service.parsing import (
    CHAT_ID_PREFIX,
    classifier_text,
    client_request_id,
    new_request_id,
    parse_chat_request,
    read_json_object,
)
from tierroute.service.routing import AUTO, RequestRoute
from tierroute.service.state import ServiceState
from tierroute.store import RequestRecord, RouteSide

router = APIRouter(tags=["chat"])

PASSTHROUGH = "passthrough"
CLIENT_CLOSED = 499  # nginx's "client closed request": logged, never sent
# Watch for a disconnect only once the upstream has taken this long (see DisconnectGuard).
WATCH_AFTER_S = 0.1


def attempt_rows(attempts: Sequence[Attempt]) -> list[dict[str, Any]]:
    """Attempts as plain dicts for the log (by hand: ``dataclasses.asdict`` costs ~20 µs)."""
    return [
        {
            "model": a.model,
            "outcome": a.outcome,
            "status": a.status,
            "latency_ms": round(a.latency_ms, 3),
            "detail": a.detail,
        }
        for a in attempts
    ]


class _Pending:
    """What is known about a request between routing and its end; becomes one log row."""

    __slots__ = ("headers", "record", "route", "start", "state")

    def __init__(
        self, state: ServiceState, start: float, route: RequestRoute, record: RequestRecord
    ) -> None:
        self.state = state
        self.start = start
        self.route = route
        self.record = record
        decision = route.decision
        self.headers = {"x-request-id": record.request_id}
        if decision is not None:
            self.headers["x-tierroute-tier"] = decision.tier
            self.headers["x-tierroute-confidence"] = f"{decision.confidence:.4f}"
            self.headers["x-tierroute-fallback"] = "true" if decision.fallback else "false"
            self.headers["x-tierroute-model-id"] = decision.model_id
            if route.canary is not None:
                self.headers["x-tierroute-route-side"] = route.side
        else:
            self.headers["x-tierroute-tier"] = PASSTHROUGH
            self.headers["x-tierroute-fallback"] = "false"

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0

    def finish(self, status: int, error: str | None = None) -> None:
        """Complete the row, count the request, queue the row for the log."""
        record = self.record
        record.status = status
        # Provider error text can quote the user's input: redacted like the query text.
        record.error = redact(error) if error else None
        record.latency_ms = self.elapsed_ms()
        state = self.state
        state.writer.submit(record)
        canary = self.route.canary
        if canary is not None and status != CLIENT_CLOSED:
            # A client that went away says nothing about either classifier.
            canary.record(
                canary=self.route.side == RouteSide.CANARY,
                error=status >= 400,
                fallback=bool(record.fallback),
            )
        state.metrics.gateway.request(
            record.tier or PASSTHROUGH, record.model or "", status, record.latency_ms / 1000.0
        )
        if record.overhead_ms is not None:
            state.metrics.overhead.observe(record.overhead_ms / 1000.0)

    def failed(self, exc: GatewayError) -> Response:
        """Log and render a dispatch error, with the routing headers."""
        self.record.attempts = attempt_rows(exc.attempts)
        self.headers["x-tierroute-attempts"] = str(len(exc.attempts))
        self.finish(http_status(exc), exc.message)
        return gateway_error_response(exc, self.headers)


def _decide(
    state: ServiceState, model: str, text: str, sticky: str
) -> tuple[RequestRoute, str | None]:
    """The route and the text to log (redacted; None when the config stores no text)."""
    rollout = state.rollout
    if rollout is not None and model == AUTO:
        route = rollout.route(state.router, text, sticky)
    else:
        route = state.router.route(model, text)
    return route, redact(text) if state.store_text else None


async def chat_completions(request: Request) -> Response:
    """OpenAI-compatible chat completions, streaming or not."""
    start = time.perf_counter()
    request_id = new_request_id(CHAT_ID_PREFIX)
    request.state.request_id = request_id
    client_id = client_request_id(request.headers)
    state = service_state(request)
    api_key = check_api_key(request, state)
    chat = parse_chat_request(await read_json_object(request, state.max_body_bytes))
    text = classifier_text(chat.messages)
    # The canary's stable key: the client's user, else its API key, else the request id.
    sticky = chat.user or api_key or request_id
    route, logged_text = await run_sized(len(text), _decide, state, chat.model, text, sticky)
    decision = route.decision
    challenger = route.challenger
    if decision is not None:
        state.metrics.gateway.classified(route.classify_ms / 1000.0)
    body = chat.body
    key_source = chat.user or api_key
    record = RequestRecord(
        request_id=request_id,
        endpoint="chat",
        status=0,
        requested_model=chat.model,
        tier=route.tier,
        confidence=decision.confidence if decision else None,
        fallback=decision.fallback if decision else None,
        model_id=decision.model_id if decision else None,
        stream=chat.stream,
        classify_ms=route.classify_ms if decision else None,
        text=logged_text,
        user_key=state.hasher(key_source) if key_source else None,
        client_request_id=client_id,
        api_key_hash=state.hasher(api_key) if api_key else None,
        route_side=route.side,
        challenger_tier=challenger.tier if challenger else None,
        challenger_model_id=challenger.model_id if challenger else None,
    )
    pending = _Pending(state, start, route, record)
    if client_id:
        pending.headers["x-client-request-id"] = client_id
    if chat.stream:
        return await _stream(request, pending, body)
    return await _complete(request, pending, body)


async def _complete(request: Request, pending: _Pending, body: dict[str, Any]) -> Response:
    state = pending.state
    try:
        async with DisconnectGuard(request.receive, after=WATCH_AFTER_S):
            result = await state.dispatcher.complete(
                body,
                pending.route.chain,
                max_tokens=pending.route.max_tokens,
                tier=pending.route.tier,
            )
    except GatewayError as exc:
        return pending.failed(exc)
    except ClientGone:
        pending.finish(CLIENT_CLOSED, "client disconnected before the answer")
        return Response(status_code=CLIENT_CLOSED)
    except Exception as exc:
        # Accepted requests are always logged, even when something unforeseen broke.
        pending.finish(500, f"internal error: {type(exc).__name__}")
        raise
    record = pending.record
    record.model = result.model
    record.attempts = attempt_rows(result.attempts)
    record.prompt_tokens = result.prompt_tokens
    record.completion_tokens = result.completion_tokens
    record.cost_usd = result.cost_usd
    record.cost_estimated = result.cost_estimated
    record.upstream_ms = result.upstream_ms
    # The provider's bytes as received: nothing to re-encode on the hot path.
    content = result.raw or orjson.dumps(result.body)
    record.overhead_ms = max(pending.elapsed_ms() - result.upstream_ms, 0.0)
    headers = pending.headers
    headers["x-tierroute-model"] = result.model
    headers["x-tierroute-attempts"] = str(len(result.attempts))
    headers["x-tierroute-cost-usd"] = f"{result.cost_usd:.8f}"
    headers["x-tierroute-overhead-ms"] = f"{record.overhead_ms:.3f}"
    pending.finish(result.status)
    return Response(
        content, status_code=result.status, media_type="application/json", headers=headers
    )


async def _stream(request: Request, pending: _Pending, body: dict[str, Any]) -> Response:
    state = pending.state
    try:
        async with DisconnectGuard(request.receive, after=WATCH_AFTER_S):
            handle = await state.dispatcher.stream(
                body,
                pending.route.chain,
                max_tokens=pending.route.max_tokens,
                tier=pending.route.tier,
            )
    except GatewayError as exc:
        return pending.failed(exc)
    except ClientGone:
        pending.finish(CLIENT_CLOSED, "client disconnected before the first byte")
        return Response(status_code=CLIENT_CLOSED)
    except Exception as exc:
        pending.finish(500, f"internal error: {type(exc).__name__}")
        raise
    record = pending.record
    record.model = handle.model
    record.overhead_ms = max(pending.elapsed_ms() - handle.first_byte_ms, 0.0)
    headers = pending.headers
    headers["x-tierroute-model"] = handle.model
    headers["x-tierroute-attempts"] = str(len(handle.attempts))
    headers["x-tierroute-overhead-ms"] = f"{record.overhead_ms:.3f}"
    return RelayResponse(handle, pending, headers)


class RelayResponse(Response):
    """Pass the upstream's SSE bytes through as they arrive; log when the stream ends.

    A client that goes away mid-stream cancels the upstream request (``handle.aclose``). A
    stream that breaks upstream ends with an SSE error event (on a fresh event boundary: the
    handle relays whole events only), so OpenAI clients raise ``APIError`` instead of taking a
    truncated answer for a whole one.
    """

    media_type = "text/event-stream"

    def __init__(self, handle: StreamHandle, pending: _Pending, headers: dict[str, str]) -> None:
        self.handle = handle
        self.pending = pending
        self.status_code = 200
        self.background = None
        headers["cache-control"] = "no-cache"
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handle = self.handle
        status = 200
        error: str | None = None
        try:
            async with DisconnectGuard(receive):
                await send(
                    {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
                )
                async for chunk in handle:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if handle.error is not None:
                    status, error = 502, handle.error
                    if not handle.error_sent:
                        event = error_event(error, "stream_broken")
                        await send({"type": "http.response.body", "body": event, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (ClientGone, OSError):
            status, error = CLIENT_CLOSED, "client disconnected mid-stream"
        except asyncio.CancelledError:
            status, error = CLIENT_CLOSED, "cancelled mid-stream (server stopping)"
            raise
        except Exception as exc:
            status, error = 500, f"internal error mid-stream: {type(exc).__name__}"
            raise
        finally:
            if not handle.finished:
                await handle.aclose()
            record = self.pending.record
            record.attempts = attempt_rows(handle.attempts)
            record.prompt_tokens = handle.prompt_tokens
            record.completion_tokens = handle.completion_tokens
            record.cost_usd = handle.cost_usd
            record.cost_estimated = handle.cost_estimated
            record.upstream_ms = handle.upstream_ms
            self.pending.finish(status, error)


# A plain Starlette route in the FastAPI router: FastAPI's dependency solver costs ~35 µs a
# request even for a Request-only endpoint, about 7 % of the gateway's CPU per chat request
# (benchmarks/gateway_overhead.py). The handler reads and checks the body itself anyway.
router.routes.append(StarletteRoute("/v1/chat/completions", chat_completions, methods=["POST"]))
