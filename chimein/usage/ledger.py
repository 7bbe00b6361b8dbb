"""The durable usage ledger: every usage event is committed before the client hears of it.

Two backends behind one small contract (:class:`Ledger`):

* SQLite (default, zero set-up): ``$CHIMEIN_HOME/ledger.sqlite3`` in WAL mode with
  ``synchronous=FULL``, so a committed event survives a SIGKILL of the server and a power
  loss alike. Several processes on one machine may share the file.
* PostgreSQL (``postgresql://...``, psycopg 3) for several server processes or machines.
  Each ``record()`` is its own transaction with ``synchronous_commit=on``.

Both are thread-safe: sessions call ``record()`` from worker threads. API keys are never
stored, only :func:`api_key_id` hash prefixes.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, Self, get_args, runtime_checkable

from chimein.home import chimein_home

from .tokens import TurnUsage

Outcome = Literal["answered", "declined", "interrupted", "listening", "co_listened"]
"""What a usage event covers: a turn the assistant answered, a turn it declined (chose
silence), an answer cut short by the user, a listening checkpoint between turns, or a file
the client asked it to listen to."""

OUTCOMES: tuple[str, ...] = get_args(Outcome)

SCHEMA_COMPONENT = "usage_ledger"
SCHEMA_VERSION = 2
"""Version of the ``chimein_usage_events`` table layout, kept in ``chimein_schema``.
2 added ``sequence`` and the unique (session_id, sequence) index (idempotent writes)."""

_TOKEN_FIELDS = ("prompt_audio_tokens", "prompt_text_tokens", "response_audio_tokens", "response_text_tokens")


@dataclass(frozen=True)
class UsageEvent:
    """One billed slice of a session, as the ledger stores it.

    ``at`` must be timezone-aware; it is normalised to UTC. ``api_key_id`` is a
    :func:`api_key_id` hash prefix, never the key.
    """

    session_id: str
    turn_index: int
    api_key_id: str | None
    model: str
    at: datetime
    outcome: Outcome
    prompt_audio_tokens: int
    prompt_text_tokens: int
    response_audio_tokens: int
    response_text_tokens: int
    input_audio_s: float
    output_audio_s: float
    sequence: int | None = None
    """The event's place in its session (1, 2, ...): the ledger stores one event per (session_id,
    sequence), so writing it again (a retry after a lost connection) never counts it twice."""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("UsageEvent.at must be timezone-aware (UTC)")
        object.__setattr__(self, "at", self.at.astimezone(UTC))
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; expected one of {OUTCOMES}")
        for name in _TOKEN_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        if self.input_audio_s < 0 or self.output_audio_s < 0:
            raise ValueError("audio durations must be >= 0 seconds")
        if self.api_key_id is not None and not API_KEY_ID_PATTERN.fullmatch(self.api_key_id):
            raise ValueError("api_key_id must come from api_key_id(key), never a raw key")
        if self.sequence is not None and (not isinstance(self.sequence, int) or self.sequence < 1):
            raise ValueError(f"sequence must be a positive int or None, got {self.sequence!r}")

    @classmethod
    def from_usage(
        cls,
        usage: TurnUsage,
        *,
        session_id: str,
        turn_index: int,
        api_key_id: str | None,
        model: str,
        at: datetime,
        outcome: Outcome,
    ) -> UsageEvent:
        """Build the ledger event for a :class:`TurnUsage` taken from a meter."""
        return cls(
            session_id=session_id,
            turn_index=turn_index,
            api_key_id=api_key_id,
            model=model,
            at=at,
            outcome=outcome,
            prompt_audio_tokens=usage.prompt_audio_tokens,
            prompt_text_tokens=usage.prompt_text_tokens,
            response_audio_tokens=usage.response_audio_tokens,
            response_text_tokens=usage.response_text_tokens,
            input_audio_s=usage.input_audio_s,
            output_audio_s=usage.output_audio_s,
            sequence=usage.sequence,
        )


_COLUMNS = tuple(f.name for f in fields(UsageEvent))
API_KEY_ID_PATTERN = re.compile(r"k_[0-9a-f]{12}")
"""What :func:`api_key_id` returns; anything else in an ``api_key_id`` field is refused."""


def api_key_id(key: str | None) -> str | None:
    """A stable, non-reversible id for an API key: ``"k_"`` + first 12 hex of its SHA-256.

    Reports and the ledger group by this id; the key itself is never stored.
    """
    if not key:
        return None
    return "k_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


@runtime_checkable
class Ledger(Protocol):
    """Where usage events are kept. Implementations are thread-safe."""

    def record(self, event: UsageEvent) -> None:
        """Store ``event`` durably; when this returns the event survives a crash."""
        ...

    def events(
        self,
        *,
        since: datetime | None = None,
        session_id: str | None = None,
        api_key_id: str | None = None,
    ) -> list[UsageEvent]:
        """Events matching all given filters (``since`` inclusive), oldest first."""
        ...

    def close(self) -> None: ...


class LedgerSchemaError(RuntimeError):
    """The ledger was written by a newer chimein than this one."""


def _check_version(found: int | None, where: str) -> None:
    if found is not None and found > SCHEMA_VERSION:
        raise LedgerSchemaError(
            f"{where} has usage ledger schema version {found}, newer than this chimein's "
            f"{SCHEMA_VERSION}; upgrade chimein"
        )


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("'since' must be timezone-aware")
    return at.astimezone(UTC)


def _where(
    since: datetime | None, session_id: str | None, key_id: str | None, mark: str
) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if since is not None:
        clauses.append(f"at >= {mark}")
        params.append(since)
    if session_id is not None:
        clauses.append(f"session_id = {mark}")
        params.append(session_id)
    if key_id is not None:
        clauses.append(f"api_key_id = {mark}")
        params.append(key_id)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _row_to_event(row: Sequence[Any]) -> UsageEvent:
    values = dict(zip(_COLUMNS, row, strict=True))
    at = values["at"]
    values["at"] = datetime.fromisoformat(at) if isinstance(at, str) else at
    return UsageEvent(**values)


_CHECKS = (
    "outcome IN ({})".format(", ".join(f"'{o}'" for o in OUTCOMES)),
    *(f"{name} >= 0" for name in _TOKEN_FIELDS),
)


_SEQUENCE_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS chimein_usage_events_sequence ON chimein_usage_events (session_id, sequence)"
)
"""NULL sequences (events written before version 2) are distinct to a unique index in both databases."""


class _SqlLedger:
    """What the two databases share: one connection under a lock, autocommit inserts, the same queries.

    Subclasses give the parameter marker, how a timestamp is stored, and ``_require()`` (the open
    connection, reconnecting where the database allows).
    """

    _marker = "?"
    _conn: Any

    def _require(self) -> Any:
        raise NotImplementedError

    def _stamp(self, at: datetime) -> Any:
        return at

    def record(self, event: UsageEvent) -> None:
        """Commit one event; durable when this returns (autocommit plus each database's sync setting).

        An event with a ``sequence`` already stored for its session is left as it is (idempotent).
        """
        values = [getattr(event, c) for c in _COLUMNS]
        values[_COLUMNS.index("at")] = self._stamp(event.at)
        sql = "INSERT INTO chimein_usage_events ({}) VALUES ({}) ON CONFLICT (session_id, sequence) DO NOTHING".format(
            ", ".join(_COLUMNS), ", ".join([self._marker] * len(_COLUMNS))
        )
        with self._lock:
            self._execute_write(sql, values, retry=event.sequence is not None)

    def _execute_write(self, sql: str, values: list[Any], *, retry: bool) -> None:
        self._require().execute(sql, values)

    def events(
        self,
        *,
        since: datetime | None = None,
        session_id: str | None = None,
        api_key_id: str | None = None,
    ) -> list[UsageEvent]:
        where, params = _where(self._stamp(_utc(since)) if since is not None else None, session_id, api_key_id,
                               self._marker)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM chimein_usage_events{where} ORDER BY at, id"
        with self._lock:
            rows = self._require().execute(sql, params).fetchall()
        return [_row_to_event(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SQLiteLedger(_SqlLedger):
    """SQLite ledger in WAL mode with ``synchronous=FULL``: a committed event is on disk."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path).expanduser()
        if not create and not self.path.exists():
            raise FileNotFoundError(f"no usage ledger at {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: no implicit transactions; each INSERT commits on its own.
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        try:
            self._conn.execute("PRAGMA busy_timeout = 30000")
            self.journal_mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._conn.execute("PRAGMA synchronous = FULL")
            self._create_schema()
        except BaseException:
            self._conn.close()
            raise

    def _create_schema(self) -> None:
        conn = self._require()
        checks = "".join(f", CHECK ({c})" for c in _CHECKS)
        conn.execute("BEGIN IMMEDIATE")  # serialises schema creation between processes
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS chimein_schema ("
                " component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = conn.execute(
                "SELECT version FROM chimein_schema WHERE component = ?", (SCHEMA_COMPONENT,)
            ).fetchone()
            _check_version(row[0] if row else None, str(self.path))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS chimein_usage_events ("
                " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " session_id TEXT NOT NULL, turn_index INTEGER NOT NULL, api_key_id TEXT,"
                " model TEXT NOT NULL,"
                " at TEXT NOT NULL,"  # ISO 8601 in UTC with microseconds: sorts as time
                " outcome TEXT NOT NULL,"
                " prompt_audio_tokens INTEGER NOT NULL, prompt_text_tokens INTEGER NOT NULL,"
                " response_audio_tokens INTEGER NOT NULL, response_text_tokens INTEGER NOT NULL,"
                f" input_audio_s REAL NOT NULL, output_audio_s REAL NOT NULL, sequence INTEGER{checks})"
            )
            columns = {r[1] for r in conn.execute("PRAGMA table_info(chimein_usage_events)")}
            if "sequence" not in columns:  # a version-1 ledger
                conn.execute("ALTER TABLE chimein_usage_events ADD COLUMN sequence INTEGER")
            for col in ("at", "session_id", "api_key_id"):
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS chimein_usage_events_{col} ON chimein_usage_events ({col})"
                )
            conn.execute(_SEQUENCE_INDEX)
            if row is None:
                conn.execute(
                    "INSERT INTO chimein_schema (component, version) VALUES (?, ?)",
                    (SCHEMA_COMPONENT, SCHEMA_VERSION),
                )
            elif row[0] < SCHEMA_VERSION:
                conn.execute("UPDATE chimein_schema SET version = ? WHERE component = ?",
                             (SCHEMA_VERSION, SCHEMA_COMPONENT))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def pragma(self, name: str) -> str | int:
        """The current value of a PRAGMA on the writing connection (``journal_mode``, ``synchronous``)."""
        if not name.isidentifier():
            raise ValueError(f"not a pragma name: {name!r}")
        with self._lock:
            return self._require().execute(f"PRAGMA {name}").fetchone()[0]

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the usage ledger is closed")
        return self._conn

    def _stamp(self, at: datetime) -> str:
        return at.astimezone(UTC).isoformat(timespec="microseconds")  # sorts as text


_PG_LOCK_KEY = 0x63686D69  # "chmi": advisory lock serialising schema creation


class PostgresLedger(_SqlLedger):
    """PostgreSQL ledger (psycopg 3); each ``record()`` is a committed transaction (synchronous_commit on)."""

    _marker = "%s"

    def __init__(self, url: str) -> None:
        self._psycopg = import_psycopg()
        self._url = url
        self._lock = threading.Lock()
        self._conn = self._connect()
        try:
            self._create_schema()
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> Any:
        return connect_postgres(self._url, "chimein-ledger")

    def _create_schema(self) -> None:
        checks = "".join(f", CHECK ({c})" for c in _CHECKS)
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS chimein_schema ("
                " component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = self._conn.execute(
                "SELECT version FROM chimein_schema WHERE component = %s", (SCHEMA_COMPONENT,)
            ).fetchone()
            _check_version(row[0] if row else None, "the PostgreSQL database")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS chimein_usage_events ("
                " id BIGSERIAL PRIMARY KEY,"
                " session_id TEXT NOT NULL, turn_index INTEGER NOT NULL, api_key_id TEXT,"
                " model TEXT NOT NULL, at TIMESTAMPTZ NOT NULL, outcome TEXT NOT NULL,"
                " prompt_audio_tokens BIGINT NOT NULL, prompt_text_tokens BIGINT NOT NULL,"
                " response_audio_tokens BIGINT NOT NULL, response_text_tokens BIGINT NOT NULL,"
                f" input_audio_s DOUBLE PRECISION NOT NULL, output_audio_s DOUBLE PRECISION NOT NULL,"
                f" sequence BIGINT{checks})"
            )
            self._conn.execute("ALTER TABLE chimein_usage_events ADD COLUMN IF NOT EXISTS sequence BIGINT")
            for col in ("at", "session_id", "api_key_id"):
                self._conn.execute(
                    f"CREATE INDEX IF NOT EXISTS chimein_usage_events_{col} ON chimein_usage_events ({col})"
                )
            self._conn.execute(_SEQUENCE_INDEX)
            if row is None:
                self._conn.execute(
                    "INSERT INTO chimein_schema (component, version) VALUES (%s, %s)",
                    (SCHEMA_COMPONENT, SCHEMA_VERSION),
                )
            elif row[0] < SCHEMA_VERSION:
                self._conn.execute("UPDATE chimein_schema SET version = %s WHERE component = %s",
                                   (SCHEMA_VERSION, SCHEMA_COMPONENT))

    def _execute_write(self, sql: str, values: list[Any], *, retry: bool) -> None:
        """An event with a sequence is retried once on a fresh connection when the old one broke
        mid-write (a database restart, a failover): the unique (session_id, sequence) index makes
        that safe even if the first attempt had committed. Without a sequence the error is raised."""
        try:
            self._require().execute(sql, values)
        except self._psycopg.OperationalError:
            if not retry or not self._conn.broken:
                raise
            self._require().execute(sql, values)

    def _require(self) -> Any:
        if self._conn is None:
            raise RuntimeError("the usage ledger is closed")
        if self._conn.broken:
            # The previous connection died (server restart); a fresh one is safe to use
            # because a failed record() raised and its event was never reported.
            self._conn = self._connect()
        return self._conn



def import_psycopg() -> Any:
    """psycopg 3, or a RuntimeError that says how to install it."""
    try:
        import psycopg
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError("a postgresql:// ledger needs psycopg 3: pip install 'psycopg[binary]'") from e
    return psycopg


def connect_postgres(url: str, application_name: str) -> Any:
    """An autocommit connection whose commits wait for the WAL flush, whatever the server's default
    (a usage event or a handle the client holds must survive a crash)."""
    conn = import_psycopg().connect(url, autocommit=True, application_name=application_name)
    conn.execute("SET synchronous_commit TO on")
    return conn


def default_ledger_path() -> Path:
    """``$CHIMEIN_HOME/ledger.sqlite3``."""
    return chimein_home() / "ledger.sqlite3"


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def open_ledger(url: str | None = None, *, create: bool = True) -> Ledger:
    """Open (and on first use create) the ledger named by ``url``.

    ``None``: SQLite at ``$CHIMEIN_HOME/ledger.sqlite3``. ``sqlite:///abs/path`` or a plain
    file path: SQLite there. ``postgresql://user:pass@host:port/db`` (or ``postgres://``):
    PostgreSQL. ``create=False`` refuses to create a missing SQLite file (reports use it so
    that a mistyped path is an error, not an empty report).
    """
    if url is None:
        return SQLiteLedger(default_ledger_path(), create=create)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresLedger(url)
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        if not path:
            raise ValueError("sqlite ledger URL needs a path: sqlite:///abs/path/ledger.sqlite3")
        return SQLiteLedger(path, create=create)
    if "://" in url:
        raise ValueError(
            f"unsupported ledger URL {redact_url(url)!r}: use sqlite:///PATH or postgresql://..."
        )
    return SQLiteLedger(url, create=create)
