"""Session resumption: ``sessionResumptionUpdate`` handles that bring a conversation back.

A handle names the conversation's memory (:class:`~chimein.memory.conversation.Conversation`:
turns, heard recordings, the compression summary). A client that reconnects with
``setup.sessionResumption.handle`` gets that same memory; a handle is valid for
:data:`HANDLE_VALIDITY_S` (2 hours, as in the Live API) from when it was issued.

Limitation: handles live in this process's memory. Behind a load balancer with several
``chimein serve`` processes a client must reconnect to the same process (sticky routing), and a
restart forgets every handle; sharing them would need the state in a common store (the ledger
database). Time is passed in (seconds on the server's monotonic clock), never read here.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chimein.memory.conversation import Conversation

__all__ = ["HANDLE_VALIDITY_S", "ResumableState", "ResumptionError", "ResumptionStore"]

HANDLE_VALIDITY_S = 2 * 3600.0
MAX_HANDLES = 10_000
"""Beyond this many live handles the oldest are forgotten (bounds a busy server's memory)."""


class ResumptionError(Exception):
    """A handle that cannot be resumed; ``reason`` is meant for the client's close frame."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ResumableState:
    """What a resumed connection takes over."""

    memory: Conversation
    conversation_id: str
    """The first session's id: follows one conversation across reconnections in logs."""


@dataclass
class _Handle:
    state: ResumableState
    expires_s: float


class ResumptionStore:
    """Issued handles -> resumable state, with expiry; thread-safe, one per server process."""

    def __init__(self, *, validity_s: float = HANDLE_VALIDITY_S, max_handles: int = MAX_HANDLES) -> None:
        self.validity_s = validity_s
        self.max_handles = max_handles
        self._handles: dict[str, _Handle] = {}
        self._lock = threading.Lock()

    def issue(self, state: ResumableState, now_s: float) -> str:
        """A new handle for ``state``, valid until ``now_s + validity_s``. Older handles stay valid."""
        handle = secrets.token_urlsafe(18)
        with self._lock:
            self._prune(now_s)
            self._handles[handle] = _Handle(state, now_s + self.validity_s)
            while len(self._handles) > self.max_handles:
                self._handles.pop(next(iter(self._handles)))
        return handle

    def resume(self, handle: str, now_s: float) -> ResumableState:
        """The state behind ``handle``; raises ResumptionError if it is unknown or expired."""
        with self._lock:
            entry = self._handles.get(handle)
            if entry is None:
                raise ResumptionError(
                    "unknown session resumption handle (handles live 2 h, in this server process only)"
                )
            if now_s >= entry.expires_s:
                del self._handles[handle]
                raise ResumptionError("session resumption handle expired (handles are valid for 2 hours)")
            return entry.state

    def __len__(self) -> int:
        return len(self._handles)

    def _prune(self, now_s: float) -> None:
        # Keep expired handles for one more validity period, so a late client is told "expired".
        dead = [h for h, e in self._handles.items() if now_s >= e.expires_s + self.validity_s]
        for h in dead:
            del self._handles[h]
