"""Cancel the work of a request whose client went away (so the upstream call is cancelled too).

``DisconnectGuard`` watches the ASGI ``receive`` channel (the body has been read by then, so the
next message is ``http.disconnect``) and cancels the task that entered it, the way
``asyncio.timeout`` does: the block sees ``CancelledError`` at the await it is suspended on,
the guard turns it into ``ClientGone``, and a cancellation from anywhere else (server shutdown)
propagates untouched.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from starlette.types import Receive


class ClientGone(Exception):
    """The client disconnected before the answer was complete."""


class DisconnectGuard:
    """``async with DisconnectGuard(receive): ...``; raises ``ClientGone`` on disconnect."""

    __slots__ = ("_receive", "_task", "_watcher", "disconnected")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: asyncio.Task[object] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.disconnected = False

    async def __aenter__(self) -> DisconnectGuard:
        self._task = asyncio.current_task()
        self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return self

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                if self._task is not None:
                    self._task.cancel()
                return

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        # Our cancel, not someone else's: swallow it and say what happened instead.
        if (
            self.disconnected
            and self._task is not None
            and self._task.uncancel() == 0
            and exc_type is asyncio.CancelledError
        ):
            raise ClientGone() from None
