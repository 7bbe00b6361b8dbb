"""Resumption state shared through a REAL PostgreSQL: snapshots, atomic claims, expiry."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from chimein.memory.conversation import Conversation
from chimein.memory.listening import HeardSentence
from chimein.server.state import (
    InProcessStore,
    PostgresStore,
    ResumableState,
    ResumptionError,
    open_handle_store,
)


def _memory() -> Conversation:
    memory = Conversation()
    memory.add_user("Please listen to this speech.")
    entry = memory.start_heard(source="recording", at_s=1.5, duration_s=11.0)
    sentences = [HeardSentence(0.0, 4.0, "Ask not what your country can do for you."),
                 HeardSentence(4.0, 9.0, "Ask what you can do for your country.")]
    vectors = np.random.default_rng(0).standard_normal((2, 384)).astype(np.float32)
    memory.add_heard_sentences(entry, sentences, vectors)
    memory.finish_heard(entry)
    memory.add_assistant("I listened to it.", interrupted=True)
    memory.entries[0].addressed = False
    return memory


def test_conversation_snapshot_round_trip() -> None:
    memory = _memory()
    restored = Conversation.from_snapshot(memory.to_snapshot())
    assert restored.entries == memory.entries
    assert [vars(r) for r in restored.heard.recordings] == [vars(r) for r in memory.heard.recordings]
    assert restored.heard.segments() == memory.heard.segments()
    assert np.array_equal(np.stack(restored.heard._vectors), np.stack(memory.heard._vectors))
    assert restored.heard.transcript(1) == memory.heard.transcript(1)
    with pytest.raises(ValueError, match="snapshot"):
        Conversation.from_snapshot({"version": 99})


def test_restored_memory_grounds_questions_like_the_original() -> None:
    """With the real MiniLM vectors stored in the snapshot, retrieval answers the same."""
    memory = Conversation()
    entry = memory.start_heard(source="recording", duration_s=11.0)
    sentences = [HeardSentence(0.0, 4.0, "And so, my fellow Americans, ask not what your country can do for you."),
                 HeardSentence(4.0, 9.0, "The weather in Dublin was rainy all week.")]
    memory.add_heard_sentences(entry, sentences)
    memory.finish_heard(entry)
    restored = Conversation.from_snapshot(memory.to_snapshot())
    question = "What did the speaker ask Americans to do?"
    assert restored.heard.ground(question).quote_reply() == memory.heard.ground(question).quote_reply()
    assert "your country" in (restored.heard.ground(question).quote_reply() or "")


def test_postgres_store_resumes_on_any_replica_once(fresh_database: str) -> None:
    first, second = PostgresStore(fresh_database, replica="r1"), PostgresStore(fresh_database, replica="r2")
    try:
        handle = first.issue(ResumableState(_memory(), "conv-1"), 0.0)
        resumed = second.claim(handle, 0.0)  # another process, same database
        assert resumed.conversation_id == "conv-1"
        assert resumed.info == {"issued_by": "r1", "claimed_by": "r2"}
        assert resumed.memory.heard.transcript(1) == _memory().heard.transcript(1)
        with pytest.raises(ResumptionError, match="already used"):
            first.claim(handle, 0.0)
        with pytest.raises(ResumptionError, match="unknown"):
            first.claim("not-a-handle", 0.0)
    finally:
        first.close()
        second.close()


def test_expired_handle_is_refused(fresh_database: str) -> None:
    import psycopg

    store = PostgresStore(fresh_database, replica="r1")
    try:
        handle = store.issue(ResumableState(Conversation(), "conv-2"), 0.0)
        with psycopg.connect(fresh_database, autocommit=True) as conn:  # two hours later, by the database clock
            conn.execute("UPDATE chimein_resumption SET expires_at = now() - interval '1 second' WHERE handle = %s",
                         (handle,))
        with pytest.raises(ResumptionError, match="expired"):
            store.claim(handle, 0.0)
    finally:
        store.close()


def test_replicas_racing_for_one_handle_exactly_one_wins(fresh_database: str) -> None:
    stores = [PostgresStore(fresh_database, replica=f"r{i}") for i in range(8)]
    try:
        for _ in range(5):
            handle = stores[0].issue(ResumableState(_memory(), "conv-race"), 0.0)
            barrier = threading.Barrier(len(stores))
            outcomes: list[str] = []

            def race(store: PostgresStore, handle: str = handle, barrier: threading.Barrier = barrier,
                     outcomes: list[str] = outcomes) -> None:
                barrier.wait()
                try:
                    store.claim(handle, 0.0)
                    outcomes.append("won")
                except ResumptionError as exc:
                    outcomes.append(exc.reason)

            threads = [threading.Thread(target=race, args=(s,)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert outcomes.count("won") == 1, outcomes
            assert all("already used" in o for o in outcomes if o != "won"), outcomes
    finally:
        for s in stores:
            s.close()


def test_store_choice_follows_the_ledger(fresh_database: str) -> None:
    assert isinstance(open_handle_store(None), InProcessStore)
    assert isinstance(open_handle_store("sqlite:///tmp/x.sqlite3"), InProcessStore)
    shared = open_handle_store(fresh_database)
    try:
        assert isinstance(shared, PostgresStore) and not shared.by_reference
    finally:
        shared.close()
