"""Read and check request bodies by hand: the chat hot path pays for no model validation.

Malformed JSON is a 400, a body over the limit a 413, JSON of the wrong shape a 422 naming the
field, and a chat request without messages a 400, all as ``GatewayError`` subclasses that the
error handlers render in the OpenAI shape.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from tierroute.exceptions import InvalidRequest, RequestTooLarge, SchemaViolation

CHAT_ID_PREFIX = "chatcmpl-"
CLASSIFY_ID_PREFIX = "clf-"
CLIENT_ID_MAX = 128  # the size of the log's client_request_id column
# The largest max_tokens passed on: a 32-bit int, as providers read it (the OpenAPI schema says so).
MAX_TOKENS = 2**31 - 1


def new_request_id(prefix: str) -> str:
    """A fresh, unguessable request id (96 random bits): ids cannot be probed or predicted.

    A counter let any key label another key's requests through /v1/feedback.
    """
    return prefix + secrets.token_hex(12)


def client_request_id(headers: Mapping[str, str]) -> str | None:
    """The client's own id (``x-client-request-id``, else ``x-request-id``), cut to its column.

    Kept beside the gateway's id, never used as the log's key: clients may reuse or forge it.
    """
    given = headers.get("x-client-request-id") or headers.get("x-request-id")
    return given[:CLIENT_ID_MAX] if given else None


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) anything over ``limit`` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"request body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object: 400 when it is not JSON, 422 when it is not an object."""
    raw = await read_body(request, limit)
    if not raw:
        raise InvalidRequest("The request body is empty; expected a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise SchemaViolation(f"The request body must be a JSON object, not {type(body).__name__}.")
    return body


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def classifier_text(messages: list[dict[str, Any]]) -> str:
    """What the classifier sees: the last user message's text.

    The system prompt is left out on purpose: it is usually the same long instruction on every
    request, so it would push every query towards the long-query tiers and hide the one thing
    that changes, the user's question. Without a user message, the last message with text.
    """
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message.get("content"))
    for message in reversed(messages):
        text = message_text(message.get("content"))
        if text:
            return text
    return ""


@dataclass(slots=True)
class ChatRequest:
    """The fields of a chat request the gateway acts on; ``body`` is passed on as sent."""

    body: dict[str, Any]
    model: str
    messages: list[dict[str, Any]]
    stream: bool
    user: str | None


def parse_chat_request(body: dict[str, Any]) -> ChatRequest:
    """Check the fields the gateway needs; everything else goes to the provider unchanged."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise SchemaViolation(
            "model: a non-empty string is required ('auto' to route)", param="model"
        )
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("messages: required, a non-empty list", param="messages")
    if not isinstance(messages, list):
        raise SchemaViolation("messages: must be a list of message objects", param="messages")
    if not messages:
        raise InvalidRequest("messages: must not be empty", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise SchemaViolation(f"messages[{i}]: must be an object", param=f"messages[{i}]")
        if not isinstance(message.get("role"), str):
            raise SchemaViolation(
                f"messages[{i}].role: a string is required", param=f"messages[{i}].role"
            )
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise SchemaViolation("stream: must be a boolean", param="stream")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise SchemaViolation("user: must be a string", param="user")
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if isinstance(value, float) and value.is_integer():
            # JSON does not tell 16 from 16.0 (nor does the published schema): pass an integer.
            value = body[key] = int(value)
        bad = isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKENS
        if value is not None and bad:
            raise SchemaViolation(f"{key}: must be an integer from 1 to {MAX_TOKENS}", param=key)
    return ChatRequest(body, model, messages, stream, user)
