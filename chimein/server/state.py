"""Session resumption state: which store holds the handles, and the two stores there are.

A ``sessionResumptionUpdate`` handle names a conversation's memory (turns, co-listened
recordings, the compression summary). A client that reconnects with the handle in its setup
gets that memory back, for :data:`HANDLE_VALIDITY_S` (2 hours, as in the Live API). Each handle
is *claimed* by the one connection that resumes it; a second claim is refused, so two
connections can never fork one conversation. A resumed session issues a fresh handle at once
and after every turn.

* :class:`InProcessStore` (the default; one machine, one ``chimein serve``): handles point at
  the live :class:`~chimein.memory.conversation.Conversation` object, so a recording still
  being transcribed when the client drops goes on into the memory its handle names.
* :class:`PostgresStore` (``--ledger postgresql://...``): handles are rows in the ledger's
  database holding a JSON snapshot of the memory (``Conversation.to_snapshot``), so any
  replica behind a load balancer resumes any handle, and a replica may die or drain without
  taking conversations with it. The claim is one atomic ``UPDATE ... WHERE claimed_by IS NULL
  AND expires_at > now() RETURNING``: of two replicas racing for a handle exactly one wins.
  Expiry uses the database clock, so replicas' clocks need not agree.

Stores are called from worker threads (the PostgreSQL one blocks on the network).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chimein.usage.ledger import connect_postgres, import_psycopg

if TYPE_CHECKING:
    from chimein.memory.conversation import Conversation

__all__ = [
    "HANDLE_VALIDITY_S",
    "HandleStore",
    "InProcessStore",
    "PostgresStore",
    "ResumableState",
    "ResumptionError",
    "open_handle_store",
    "replica_name",
]

HANDLE_VALIDITY_S = 2 * 3600.0
MAX_HANDLES = 10_000
"""Beyond this many live handles the in-process store forgets the oldest (bounds a busy server's memory)."""
SWEEP_EVERY_S = 60.0
"""How often the PostgreSQL store deletes rows expired for more than one validity period."""


class ResumptionError(Exception):
    """A handle that cannot be resumed; ``reason`` is meant for the client's close frame (<= 123 bytes)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ResumableState:
    """What a resumed connection takes over."""

    memory: Conversation
    conversation_id: str
    """The first session's id: follows one conversation across reconnections (and replicas) in logs."""
    info: dict[str, Any] = field(default_factory=dict)
    """Where it came from (``issued_by``, ``claimed_by``): for logs only."""
    snapshot: dict[str, Any] | None = None
    """``memory.to_snapshot()`` taken on the event loop, for a store that issues in a worker thread
    while the session goes on changing the memory (None: the store takes it)."""


class HandleStore(Protocol):
    """Issued handles -> resumable state. Implementations are thread-safe."""

    by_reference: bool
    """True: a handle keeps the live memory object (work still running lands in it). False: a
    handle keeps a snapshot, so a session must not hand one out while a recording is half heard."""

    def issue(self, state: ResumableState, now_s: float) -> str:
        """A new handle for ``state``, valid for 2 h."""
        ...

    def claim(self, handle: str, now_s: float) -> ResumableState:
        """The state behind ``handle``, claimed for this connection; ResumptionError if it cannot be."""
        ...

    def close(self) -> None: ...


def replica_name() -> str:
    """This process as the database records it: ``host:pid`` (or ``$CHIMEIN_REPLICA``)."""
    return os.environ.get("CHIMEIN_REPLICA") or f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Handle:
    state: ResumableState
    expires_s: float
    claimed: bool = False


class InProcessStore:
    """Handles in this process's memory: resume on the same ``chimein serve`` only.

    Time is passed in (seconds on the server's monotonic clock), never read here.
    """

    by_reference = True

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

    def claim(self, handle: str, now_s: float) -> ResumableState:
        """The state behind ``handle``, once; raises ResumptionError if unknown, expired or used."""
        with self._lock:
            entry = self._handles.get(handle)
            if entry is None:
                raise ResumptionError(
                    "unknown session resumption handle (handles live 2 h, in this server process only)"
                )
            if now_s >= entry.expires_s:
                del self._handles[handle]
                raise ResumptionError(_EXPIRED)
            if entry.claimed:
                raise ResumptionError(_CLAIMED)
            entry.claimed = True
            return entry.state

    resume = claim  # the name before handles were claimed once

    def close(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self._handles)

    def _prune(self, now_s: float) -> None:
        # Keep expired handles for one more validity period, so a late client is told "expired".
        dead = [h for h, e in self._handles.items() if now_s >= e.expires_s + self.validity_s]
        for h in dead:
            del self._handles[h]


_EXPIRED = "session resumption handle expired (handles are valid for 2 hours)"
_CLAIMED = "session resumption handle already used by another connection; resume with the newest handle"
_SCHEMA_COMPONENT = "resumption_state"
_SCHEMA_VERSION = 1
_PG_LOCK_KEY = 0x63686D6A  # advisory lock serialising schema creation (the ledger uses ...69)


class PostgresStore:
    """Handles as rows in PostgreSQL, shared by every replica that uses the same database."""

    by_reference = False

    def __init__(self, url: str, *, validity_s: float = HANDLE_VALIDITY_S, replica: str | None = None) -> None:
        import_psycopg()
        from psycopg.types.json import Jsonb

        self._jsonb = Jsonb
        self._url = url
        self.validity_s = validity_s
        self.replica = replica or replica_name()
        self._lock = threading.Lock()
        self._last_sweep = 0.0
        self._conn: Any = self._connect()
        try:
            self._create_schema()
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> Any:
        return connect_postgres(self._url, "chimein-resumption")

    def _require(self) -> Any:
        if self._conn is None:
            raise RuntimeError("the resumption store is closed")
        if self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def _create_schema(self) -> None:
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS chimein_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = self._conn.execute(
                "SELECT version FROM chimein_schema WHERE component = %s", (_SCHEMA_COMPONENT,)
            ).fetchone()
            if row is not None and row[0] > _SCHEMA_VERSION:
                raise RuntimeError(
                    f"the PostgreSQL database has resumption state schema version {row[0]}, newer than this "
                    f"chimein's {_SCHEMA_VERSION}; upgrade chimein"
                )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS chimein_resumption ("
                " handle TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, snapshot JSONB NOT NULL,"
                " issued_by TEXT NOT NULL, issued_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
                " expires_at TIMESTAMPTZ NOT NULL, claimed_by TEXT, claimed_at TIMESTAMPTZ)"
            )
            self._conn.execute(
                "CREATE INDEX IF NOT EXISTS chimein_resumption_expires_at ON chimein_resumption (expires_at)"
            )
            if row is None:
                self._conn.execute(
                    "INSERT INTO chimein_schema (component, version) VALUES (%s, %s)",
                    (_SCHEMA_COMPONENT, _SCHEMA_VERSION),
                )

    def issue(self, state: ResumableState, now_s: float) -> str:
        """Snapshot the memory into a new row; the handle is valid for ``validity_s`` by the database clock."""
        handle = secrets.token_urlsafe(18)
        snapshot = state.snapshot if state.snapshot is not None else state.memory.to_snapshot()
        with self._lock:
            conn = self._require()
            conn.execute(
                "INSERT INTO chimein_resumption (handle, conversation_id, snapshot, issued_by, expires_at)"
                " VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s))",
                (handle, state.conversation_id, self._jsonb(snapshot), self.replica, self.validity_s),
            )
            if time.monotonic() - self._last_sweep > SWEEP_EVERY_S:
                self._last_sweep = time.monotonic()
                # Expired rows stay one more validity period, so a late client is told "expired".
                conn.execute(
                    "DELETE FROM chimein_resumption WHERE expires_at < now() - make_interval(secs => %s)",
                    (self.validity_s,),
                )
        return handle

    def claim(self, handle: str, now_s: float) -> ResumableState:
        """Atomically mark the handle as this replica's and return its state (ResumptionError otherwise)."""
        from chimein.memory.conversation import Conversation

        with self._lock:
            conn = self._require()
            row = conn.execute(
                "UPDATE chimein_resumption SET claimed_by = %s, claimed_at = now()"
                " WHERE handle = %s AND claimed_by IS NULL AND expires_at > now()"
                " RETURNING conversation_id, snapshot, issued_by",
                (self.replica, handle),
            ).fetchone()
            if row is None:
                why = conn.execute(
                    "SELECT claimed_by IS NOT NULL, expires_at <= now() FROM chimein_resumption WHERE handle = %s",
                    (handle,),
                ).fetchone()
        if row is None:
            if why is None:
                raise ResumptionError("unknown session resumption handle (never issued, or expired long ago)")
            raise ResumptionError(_EXPIRED if why[1] else _CLAIMED)
        conversation_id, snapshot, issued_by = row
        if isinstance(snapshot, str):
            snapshot = json.loads(snapshot)
        memory = Conversation.from_snapshot(snapshot)
        for recording in memory.heard.recordings:
            recording.complete = True  # nothing more will come for it on this replica
        return ResumableState(memory, conversation_id, {"issued_by": issued_by, "claimed_by": self.replica})

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def open_handle_store(ledger_url: str | None) -> HandleStore:
    """PostgreSQL when the ledger is a ``postgresql://`` URL (replicas share handles), else in-process."""
    if ledger_url is not None and ledger_url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(ledger_url)
    return InProcessStore()
