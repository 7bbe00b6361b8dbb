"""The ledger suite, run against SQLite and a REAL PostgreSQL server (see conftest.py)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from chimein.usage.ledger import (
    Ledger,
    LedgerSchemaError,
    SQLiteLedger,
    UsageEvent,
    api_key_id,
    open_ledger,
)
from chimein.usage.tokens import TurnUsage

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


def event(
    i: int, *, session: str = "s1", key: str | None = "alpha", outcome: str = "answered", **kw
) -> UsageEvent:
    base = dict(
        session_id=session,
        turn_index=i,
        api_key_id=api_key_id(key),
        model="models/chimein-proactive",
        at=T0 + timedelta(seconds=i),
        outcome=outcome,
        prompt_audio_tokens=160 + i,
        prompt_text_tokens=i % 3,
        response_audio_tokens=0 if outcome == "declined" else 32 * i,
        response_text_tokens=0,
        input_audio_s=(160 + i) / 32,
        output_audio_s=0.0 if outcome == "declined" else float(i),
    )
    return UsageEvent(**(base | kw))


@pytest.fixture
def ledger(ledger_url: str):
    led = open_ledger(ledger_url)
    yield led
    led.close()


def test_round_trip(ledger: Ledger) -> None:
    assert isinstance(ledger, Ledger)
    written = [event(i) for i in range(5)] + [event(5, outcome="declined", key=None)]
    for e in written:
        ledger.record(e)
    assert ledger.events() == written  # microseconds, floats and None survive both backends


def test_filters(ledger: Ledger) -> None:
    for i in range(6):
        ledger.record(event(i, session="s1" if i < 3 else "s2", key="alpha" if i % 2 else "beta"))
    assert [e.turn_index for e in ledger.events(since=T0 + timedelta(seconds=2))] == [2, 3, 4, 5]  # inclusive
    # a since in another time zone means the same instant
    cet = timezone(timedelta(hours=2))
    assert len(ledger.events(since=(T0 + timedelta(seconds=4)).astimezone(cet))) == 2
    assert [e.turn_index for e in ledger.events(session_id="s2")] == [3, 4, 5]
    assert [e.turn_index for e in ledger.events(api_key_id=api_key_id("alpha"))] == [1, 3, 5]
    assert [
        e.turn_index
        for e in ledger.events(
            since=T0 + timedelta(seconds=2), session_id="s2", api_key_id=api_key_id("beta")
        )
    ] == [4]
    assert ledger.events(session_id="nope") == []
    with pytest.raises(ValueError):
        ledger.events(since=datetime(2025, 1, 1))  # naive


def test_events_are_ordered_by_time(ledger: Ledger) -> None:
    for i in (3, 1, 2):
        ledger.record(event(i))
    assert [e.turn_index for e in ledger.events()] == [1, 2, 3]


def test_concurrent_record_from_threads(ledger: Ledger) -> None:
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            for i in range(20):
                ledger.record(event(i, session=f"w{w}"))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = ledger.events()
    assert len(got) == 80
    assert {(e.session_id, e.turn_index) for e in got} == {(f"w{w}", i) for w in range(4) for i in range(20)}


def test_two_handles_share_one_ledger(ledger_url: str) -> None:
    """Two server processes (here two handles) write the same ledger; both see everything."""
    a, b = open_ledger(ledger_url), open_ledger(ledger_url)
    try:
        a.record(event(0, session="a"))
        b.record(event(1, session="b"))
        assert {e.session_id for e in a.events()} == {"a", "b"} == {e.session_id for e in b.events()}
    finally:
        a.close()
        b.close()


def _schema_version(url: str) -> int:
    if url.startswith("sqlite://"):
        with sqlite3.connect(url[len("sqlite://") :]) as conn:
            return conn.execute(
                "SELECT version FROM chimein_schema WHERE component='usage_ledger'"
            ).fetchone()[0]
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version FROM chimein_schema WHERE component='usage_ledger'").fetchone()[0]


def _set_schema_version(url: str, version: int) -> None:
    if url.startswith("sqlite://"):
        with sqlite3.connect(url[len("sqlite://") :]) as conn:
            conn.execute("UPDATE chimein_schema SET version=? WHERE component='usage_ledger'", (version,))
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE chimein_schema SET version=%s WHERE component='usage_ledger'", (version,))


def test_schema_version(ledger_url: str) -> None:
    led = open_ledger(ledger_url)
    led.record(event(0))
    led.close()
    assert _schema_version(ledger_url) == 2  # 2: the sequence column (idempotent writes)
    again = open_ledger(ledger_url)  # reopening keeps the data and the version
    assert len(again.events()) == 1
    again.close()
    _set_schema_version(ledger_url, 99)
    with pytest.raises(LedgerSchemaError, match="99"):
        open_ledger(ledger_url)


def test_closed_ledger_refuses(ledger: Ledger) -> None:
    ledger.close()
    ledger.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        ledger.record(event(0))


_CHILD = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from chimein.usage.ledger import UsageEvent, open_ledger
    ledger = open_ledger(sys.argv[1])
    print("open", flush=True)
    i = 0
    while True:
        ledger.record(UsageEvent(session_id="killed", turn_index=i, api_key_id=None, model="m",
            at=datetime.now(UTC), outcome="listening", prompt_audio_tokens=32, prompt_text_tokens=0,
            response_audio_tokens=0, response_text_tokens=0, input_audio_s=1.0, output_audio_s=0.0))
        print(i, flush=True)  # the client is told only after record() returned
        i += 1
    """
)


def test_sigkill_loses_nothing_committed(ledger_url: str) -> None:
    """A writer SIGKILLed mid-stream: every event it acknowledged is in the ledger afterwards."""
    n = 50
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, ledger_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    acked: list[int] = []
    try:
        assert proc.stdout.readline().strip() == "open", proc.stderr.read()
        while len(acked) < n:
            line = proc.stdout.readline()
            assert line, f"writer died early: {proc.stderr.read()}"
            acked.append(int(line))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        rest, _ = proc.communicate(timeout=30)
    acked += [int(x) for x in rest.split()]
    assert proc.returncode == -signal.SIGKILL

    if ledger_url.startswith("sqlite://"):
        with sqlite3.connect(ledger_url[len("sqlite://") :]) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    led = open_ledger(ledger_url)
    try:
        stored = {e.turn_index for e in led.events(session_id="killed")}
    finally:
        led.close()
    assert len(acked) >= n
    assert set(acked) <= stored, f"lost acknowledged events: {sorted(set(acked) - stored)[:10]}"
    assert stored == set(range(len(stored)))  # no holes either


def test_postgres_reconnects_after_connection_loss(pg_server) -> None:
    import psycopg

    url = pg_server.new_database()
    led = open_ledger(url)
    try:
        led.record(event(0))
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'chimein-ledger' AND pid <> pg_backend_pid()"
            )
        with pytest.raises(psycopg.OperationalError):
            led.record(event(1))  # fails loudly: the session must not tell the client
        led.record(event(2))  # the next call reconnects
        assert [e.turn_index for e in led.events()] == [0, 2]
    finally:
        led.close()


def test_default_ledger_is_wal_sqlite_in_chimein_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIMEIN_HOME", str(tmp_path / "home"))
    led = open_ledger()
    try:
        assert isinstance(led, SQLiteLedger)
        assert led.path == tmp_path / "home" / "ledger.sqlite3"
        assert led.pragma("journal_mode") == "wal"
        assert led.pragma("synchronous") == 2  # FULL
        led.record(event(0))
    finally:
        led.close()
    assert (tmp_path / "home" / "ledger.sqlite3").exists()


def test_open_ledger_urls(tmp_path: Path) -> None:
    plain = open_ledger(str(tmp_path / "plain.sqlite3"))
    plain.close()
    with pytest.raises(FileNotFoundError, match="no usage ledger"):
        open_ledger(f"sqlite://{tmp_path / 'missing.sqlite3'}", create=False)
    assert not (tmp_path / "missing.sqlite3").exists()
    with pytest.raises(ValueError, match="unsupported ledger URL 'mysql://u:\\*\\*\\*@h/db'"):
        open_ledger("mysql://u:secret@h/db")
    with pytest.raises(ValueError):
        open_ledger("sqlite://")


def test_api_key_id_is_a_hash_prefix() -> None:
    key = "AIzaSy-very-secret-key"
    kid = api_key_id(key)
    assert kid == api_key_id(key) and kid.startswith("k_") and len(kid) == 14
    assert key not in kid and kid != api_key_id(key + "x")
    assert api_key_id(None) is None and api_key_id("") is None
    with pytest.raises(ValueError, match="never a raw key"):
        event(0, api_key_id=key)


def test_usage_event_validation() -> None:
    with pytest.raises(ValueError, match="timezone"):
        event(0, at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="outcome"):
        event(0, outcome="maybe")
    with pytest.raises(ValueError):
        event(0, prompt_audio_tokens=-1)
    local = event(0, at=datetime(2025, 1, 1, 14, tzinfo=timezone(timedelta(hours=2))))
    assert local.at == datetime(2025, 1, 1, 12, tzinfo=UTC) and local.at.tzinfo is UTC


def test_event_from_meter_usage() -> None:
    usage = TurnUsage(prompt_audio_tokens=64, response_audio_tokens=32, input_audio_s=2.0, output_audio_s=1.0)
    e = UsageEvent.from_usage(
        usage, session_id="s", turn_index=3, api_key_id=None, model="m", at=T0, outcome="interrupted"
    )
    assert (e.prompt_audio_tokens, e.response_audio_tokens, e.input_audio_s, e.output_audio_s) == (
        64,
        32,
        2.0,
        1.0,
    )


def test_an_event_written_twice_is_counted_once(ledger: Ledger) -> None:
    """(session, sequence) is unique: a retried write after a lost connection never bills twice."""
    ledger.record(event(0, sequence=1))
    ledger.record(event(0, sequence=1))  # the same event again (a retry)
    ledger.record(event(1, sequence=2))
    ledger.record(event(1, session="other", sequence=1))  # sequences are per session
    ledger.record(event(2))  # no sequence (written by an older chimein): always stored
    ledger.record(event(2))
    stored = ledger.events()
    assert sorted((e.session_id, e.sequence or 0) for e in stored) == [
        ("other", 1), ("s1", 0), ("s1", 0), ("s1", 1), ("s1", 2)]
    assert sum(e.prompt_audio_tokens for e in stored if e.session_id == "s1") == 160 + 161 + 162 * 2


def test_meter_numbers_the_ledger_shares() -> None:
    from chimein.usage.tokens import UsageMeter

    meter = UsageMeter()
    meter.add_input_audio(16000, 16000)
    first = meter.take_unrecorded()
    meter.take_turn()
    second = meter.take_unrecorded()
    assert (first.sequence, second.sequence) == (1, 2)
    assert UsageEvent.from_usage(first, session_id="s", turn_index=0, api_key_id=None, model="m", at=T0,
                                 outcome="listening").sequence == 1


def test_version_1_ledger_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # the version-1 layout, as an older chimein left it
        conn.execute("CREATE TABLE chimein_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        conn.execute("INSERT INTO chimein_schema VALUES ('usage_ledger', 1)")
        conn.execute(
            "CREATE TABLE chimein_usage_events (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,"
            " turn_index INTEGER NOT NULL, api_key_id TEXT, model TEXT NOT NULL, at TEXT NOT NULL,"
            " outcome TEXT NOT NULL, prompt_audio_tokens INTEGER NOT NULL, prompt_text_tokens INTEGER NOT NULL,"
            " response_audio_tokens INTEGER NOT NULL, response_text_tokens INTEGER NOT NULL,"
            " input_audio_s REAL NOT NULL, output_audio_s REAL NOT NULL)")
        conn.execute("INSERT INTO chimein_usage_events (session_id, turn_index, model, at, outcome,"
                     " prompt_audio_tokens, prompt_text_tokens, response_audio_tokens, response_text_tokens,"
                     " input_audio_s, output_audio_s) VALUES ('old', 0, 'm', ?, 'listening', 32, 0, 0, 0, 1.0, 0.0)",
                     (T0.isoformat(),))
    led = open_ledger(f"sqlite://{path}")
    try:
        led.record(event(1, sequence=1))
        led.record(event(1, sequence=1))
        assert [(e.session_id, e.sequence) for e in led.events()] == [("old", None), ("s1", 1)]
    finally:
        led.close()
    assert _schema_version(f"sqlite://{path}") == 2


def test_postgres_retries_a_numbered_event_once_after_connection_loss(pg_server) -> None:
    import psycopg

    url = pg_server.new_database()
    led = open_ledger(url)
    try:
        led.record(event(0, sequence=1))
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'chimein-ledger' AND pid <> pg_backend_pid()"
            )
        led.record(event(1, sequence=2))  # the broken connection is replaced and the write retried
        led.record(event(1, sequence=2))
        assert [(e.turn_index, e.sequence) for e in led.events()] == [(0, 1), (1, 2)]
    finally:
        led.close()
