"""Server frames of one session, sent by one writer in the order they were made.

The session queues frames without awaiting (so no state change ever waits on the socket), and
nothing can overtake what was queued before it. A connection that is gone ends the writer quietly:
the client hanging up is a normal end, and the receive loop closes the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("chimein.session")

FLUSH_S = 5.0


class Disconnected(Exception):
    """The send callable's way to say the client is gone (a normal end, not a failure)."""


class Outbox:
    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]], name: str) -> None:
        self._send = send
        self._name = name
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._open = True
        self._writer = asyncio.ensure_future(self._write())

    @property
    def open(self) -> bool:
        return self._open

    def put(self, message: dict[str, Any]) -> None:
        if self._open:
            self._queue.put_nowait(message)

    async def close(self, flush_s: float = FLUSH_S) -> None:
        """Send what is queued (for at most ``flush_s``), then stop."""
        self._open = False
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self._writer, flush_s)

    async def _write(self) -> None:
        while (message := await self._queue.get()) is not None:
            try:
                await self._send(message)
            except Disconnected as exc:
                log.info("session %s: the client is gone (%s); output stopped", self._name, exc)
                self._open = False
                return
            except Exception:
                log.exception("session %s: could not send a frame; output stopped", self._name)
                self._open = False
                return
