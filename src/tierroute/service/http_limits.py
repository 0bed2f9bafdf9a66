"""Connection limits uvicorn lacks: header size and header/body read deadlines (issue 8).

uvicorn's httptools protocol buffers a request's headers without bound and waits for them
forever: 50 connections each sending an unfinished 2 MB header held 100 MB before any key
check, and a client sending one header byte every few seconds holds its connection (slowloris).
``guarded_protocol(server)`` returns the httptools protocol with

- a cap on the bytes of a request head (``max_header_bytes``): past it, 431 and close;
- a deadline for a request head (``header_timeout``), from the connection's opening or from the
  first byte of the next request on a kept-alive connection: past it, 408 and close;
- a deadline for the body once the head is in (``body_timeout``): past it, the connection
  closes and the app sees the client gone (a request the app never accepted is not logged).

``uvicorn_options(server)`` is everything ``tierroute serve`` passes to uvicorn from the config.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from tierroute.config import ServerConfig


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """httptools with a head-size cap and head/body deadlines (class attributes set per server)."""

    max_header_bytes = 65_536
    header_timeout = 10.0
    body_timeout = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._reading_head = True
        self._deadline: asyncio.TimerHandle | None = None
        self._arm(self.header_timeout, 408)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._reading_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse(431, "Request header fields too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if not self._reading_head:  # the next request on a kept-alive connection
            self._reading_head = True
            self._arm(self.header_timeout, 408)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()
        self._arm(self.body_timeout, None)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float, status: int | None) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, status)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, status: int | None) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if status is None:
            # The app may be reading the body: closing makes it see the client gone.
            self.transport.close()
        else:
            self._refuse(status, "Request headers not received in time.")

    def _refuse(self, status: int, message: str) -> None:
        """A plain-text error (the app never saw the request) and close the connection."""
        self._disarm()
        body = message.encode("ascii")
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.append(b"content-type: text/plain; charset=utf-8\r\n")
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def guarded_protocol(server: ServerConfig) -> type[HttpToolsProtocol]:
    """The httptools protocol class with ``server``'s head and body limits."""
    return type(
        "GuardedHttpTools",
        (GuardedHttpToolsProtocol,),
        {
            "max_header_bytes": server.max_header_bytes,
            "header_timeout": server.header_timeout,
            "body_timeout": server.body_timeout,
        },
    )


def uvicorn_options(server: ServerConfig) -> dict[str, Any]:
    """uvicorn keyword arguments for ``server``'s connection limits."""
    return {
        "http": guarded_protocol(server),
        # Only used if the h11 protocol is chosen instead; the same cap on a request head.
        "h11_max_incomplete_event_size": server.max_header_bytes,
        "timeout_keep_alive": server.keep_alive_timeout,
        "limit_concurrency": server.limit_concurrency,
    }
