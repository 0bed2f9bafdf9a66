"""Server-sent events of an OpenAI-style chat stream: split into events, tell them apart.

The gateway relays whole events only, so an event of its own (an error) always starts on a
fresh event boundary, and a stream cut in the middle of an event never hands a client half a
line. Each data event is parsed once (orjson, about a microsecond for a chunk): to find the
first real content (what commits a stream), in-band errors, the usage chunk and the number of
completion characters relayed (the cost estimate when a provider sends no usage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

# What an event is.
COMMENT = 0  # only comment or unknown lines (": OPENROUTER PROCESSING", keep-alives)
ROLE = 1  # a chunk with choices but no content yet (the opening role delta)
CONTENT = 2  # a chunk with content, tool calls, reasoning or a finish reason
USAGE = 3  # a chunk with empty choices (OpenAI's closing usage chunk)
ERROR = 4  # an in-band {"error": ...}
DONE = 5  # data: [DONE] (with or without the space)
OTHER = 6  # data that is not a JSON object: relayed as is

DONE_EVENT = b"data: [DONE]\n\n"


@dataclass(slots=True)
class Event:
    """One SSE event as received (``raw`` without the blank line that ended it)."""

    raw: bytes
    kind: int
    chars: int = 0  # completion characters (content, reasoning, tool-call arguments)
    usage: dict[str, Any] | None = None
    finished: bool = False  # carried a finish_reason
    error: dict[str, Any] | None = None


class EventSplitter:
    """Feed raw stream bytes, get complete events back; a partial event waits for the rest."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The events completed by ``chunk`` (CRLF line ends are normalised to LF)."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            # On the joined bytes: a CRLF split between two reads is still one line end.
            buffer = buffer.replace(b"\r\n", b"\n")
        if b"\n\n" not in buffer:
            self._buffer = buffer
            return []
        *events, self._buffer = buffer.split(b"\n\n")
        return [event for event in events if event.strip(b"\r\n")]

    def rest(self) -> bytes:
        """What is left after the stream ended (an unterminated last event, or nothing)."""
        rest, self._buffer = self._buffer.strip(b"\r\n"), b""
        return rest


def parse_event(raw: bytes) -> Event:
    """Classify one event."""
    if raw.startswith(b"data:") and b"\n" not in raw:
        data = raw[5:]  # the common case: one data line
    else:
        lines = [line[5:] for line in raw.split(b"\n") if line.startswith(b"data:")]
        if not lines:
            return Event(raw, COMMENT)
        data = b"\n".join(line[1:] if line.startswith(b" ") else line for line in lines)
    data = data.strip()
    if data == b"[DONE]":
        return Event(raw, DONE)
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return Event(raw, OTHER)
    if not isinstance(obj, dict):
        return Event(raw, OTHER)
    usage = obj.get("usage")
    usage = usage if isinstance(usage, dict) else None
    choices = obj.get("choices")
    if obj.get("error") and not choices:
        error = obj["error"]
        return Event(raw, ERROR, error=error if isinstance(error, dict) else {"message": error})
    if not isinstance(choices, list):
        return Event(raw, OTHER, usage=usage)
    if not choices:
        return Event(raw, USAGE, usage=usage)
    chars = 0
    finished = False
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        if choice.get("finish_reason"):
            finished = True
        delta = choice.get("delta")
        if isinstance(delta, dict):
            chars += _delta_chars(delta)
    kind = CONTENT if chars or finished else ROLE
    return Event(raw, kind, chars, usage, finished)


def _delta_chars(delta: dict[str, Any]) -> int:
    chars = 0
    for key in ("content", "reasoning_content", "reasoning", "refusal"):
        value = delta.get(key)
        if isinstance(value, str):
            chars += len(value)
    calls = delta.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                for key in ("name", "arguments"):
                    value = function.get(key)
                    if isinstance(value, str):
                        chars += max(len(value), 1)
    return chars


def error_event(message: str, code: str, error_type: str = "api_error") -> bytes:
    """The gateway's own error event (the openai SDK raises it as ``APIError``)."""
    error = {"message": message, "type": error_type, "param": None, "code": code}
    return b"data: " + orjson.dumps({"error": error}) + b"\n\n"
