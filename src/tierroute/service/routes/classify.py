"""``POST /v1/classify``: the routing decision for ``{"text"}``, ``{"messages"}`` or a batch.

Each classified text is logged (endpoint ``classify``) like a chat request, so labels given
through ``/v1/feedback`` can refer to it; batch items get ids ``<request id>.<index>``. A
configured challenger's decision is logged beside the champion's (shadow).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from tierroute.classifier.decision import Decision
from tierroute.exceptions import SchemaViolation
from tierroute.redact import redact
from tierroute.service.deps import check_api_key, service_state
from tierroute.service.offload import OFFLOAD_CHARS, run_sized
from tierroute.service.parsing import (
    CLASSIFY_ID_PREFIX,
    classifier_text,
    client_request_id,
    new_request_id,
    read_json_object,
)
from tierroute.service.state import ServiceState
from tierroute.store import RequestRecord

router = APIRouter(tags=["classify"])

MAX_BATCH = 1000


def _texts(body: dict[str, Any]) -> tuple[list[str], bool]:
    """The texts to classify and whether the request was a batch."""
    given = [key for key in ("text", "messages", "inputs") if key in body]
    if len(given) != 1:
        raise SchemaViolation("send exactly one of 'text', 'messages' or 'inputs'")
    key = given[0]
    value = body[key]
    if key == "text":
        if not isinstance(value, str):
            raise SchemaViolation("text: must be a string", param="text")
        return [value], False
    if key == "messages":
        if not isinstance(value, list) or not value or not all(isinstance(m, dict) for m in value):
            raise SchemaViolation("messages: must be a non-empty list of objects", param="messages")
        return [classifier_text(value)], False
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise SchemaViolation("inputs: must be a list of strings", param="inputs")
    if not 1 <= len(value) <= MAX_BATCH:
        raise SchemaViolation(f"inputs: between 1 and {MAX_BATCH} texts", param="inputs")
    return list(value), True


def _result(state: ServiceState, decision: Decision, request_id: str) -> dict[str, Any]:
    chain = state.router.chains[decision.tier]
    result = decision.to_dict()
    result["model"] = chain[0]
    result["chain"] = list(chain)
    result["request_id"] = request_id
    return result


def _score(
    state: ServiceState, texts: list[str], batch: bool
) -> tuple[list[Decision], list[Decision | None], list[str | None]]:
    """The champion's decisions, the challenger's (shadow; None without one), the texts to log."""
    model = state.router.model
    decisions = model.predict_batch(texts) if batch else [model.predict(texts[0])]
    # A challenger scores in shadow here (the answer is always the champion's; canary routing
    # applies to chat, where errors and fallbacks can be measured).
    shadow: list[Decision | None] = [None] * len(texts)
    rollout = state.rollout
    if rollout is not None:
        challenger = rollout.challenger.model
        shadow = list(challenger.predict_batch(texts) if batch else [challenger.predict(texts[0])])
    logged = [redact(text) if state.store_text else None for text in texts]
    return list(decisions), shadow, logged


@router.post("/v1/classify")
async def classify(request: Request) -> Response:
    """Tier, confidence, probabilities, fallback, reason, mapped model, model_id, latency."""
    start = time.perf_counter()
    request_id = new_request_id(CLASSIFY_ID_PREFIX)
    request.state.request_id = request_id
    client_id = client_request_id(request.headers)
    state = service_state(request)
    api_key = check_api_key(request, state)
    texts, batch = _texts(await read_json_object(request, state.max_body_bytes))
    ids = [f"{request_id}.{i}" for i in range(len(texts))] if batch else [request_id]
    # A batch (up to 1,000 texts of up to 1 MiB in all) is scored in a worker thread.
    chars = sum(len(text) for text in texts) + (OFFLOAD_CHARS if batch else 0)
    decisions, shadow, logged = await run_sized(chars, _score, state, texts, batch)
    classify_ms = (time.perf_counter() - start) * 1000.0
    state.metrics.gateway.classified(classify_ms / 1000.0 / len(texts))
    router_ = state.router
    results = [_result(state, d, rid) for d, rid in zip(decisions, ids, strict=True)]
    user_key = state.hasher(api_key) if api_key else None
    for text, decision, rid, other in zip(logged, decisions, ids, shadow, strict=True):
        state.writer.submit(
            RequestRecord(
                request_id=rid,
                endpoint="classify",
                status=200,
                tier=decision.tier,
                confidence=decision.confidence,
                fallback=decision.fallback,
                model_id=decision.model_id,
                model=router_.chains[decision.tier][0],
                classify_ms=classify_ms / len(texts),
                latency_ms=classify_ms,
                text=text,
                user_key=user_key,
                client_request_id=client_id,
                api_key_hash=user_key,
                challenger_tier=other.tier if other else None,
                challenger_model_id=other.model_id if other else None,
            )
        )
    latency_ms = round((time.perf_counter() - start) * 1000.0, 3)
    payload: dict[str, Any]
    if batch:
        payload = {"results": results, "latency_ms": latency_ms, "request_id": request_id}
    else:
        payload = {**results[0], "latency_ms": latency_ms}
    headers = {"x-request-id": request_id}
    if client_id:
        headers["x-client-request-id"] = client_id
    return Response(orjson.dumps(payload), media_type="application/json", headers=headers)
