"""Resumption handles (expiry, unknown handles) and the microphone-recording detector."""

from __future__ import annotations

import pytest

from chimein.memory.conversation import Conversation
from chimein.memory.media import MicRecordingDetector
from chimein.session.resumption import HANDLE_VALIDITY_S, ResumableState, ResumptionError, ResumptionStore


def test_handles_resume_the_same_memory_once_until_they_expire():
    store = ResumptionStore()
    memory = Conversation()
    state = ResumableState(memory, "conv-1")
    first = store.issue(state, now_s=100.0)
    second = store.issue(state, now_s=200.0)
    third = store.issue(state, now_s=300.0)
    assert len({first, second, third}) == 3
    assert store.claim(first, now_s=100.0 + HANDLE_VALIDITY_S - 1).memory is memory
    with pytest.raises(ResumptionError, match="already used"):  # one connection per handle: no forks
        store.claim(first, now_s=100.0 + HANDLE_VALIDITY_S - 1)
    with pytest.raises(ResumptionError, match="expired"):
        store.claim(second, now_s=200.0 + HANDLE_VALIDITY_S)
    with pytest.raises(ResumptionError, match="unknown"):
        store.claim("no-such-handle", now_s=0.0)
    assert store.claim(third, now_s=300.0 + 60).conversation_id == "conv-1"


def test_store_is_bounded_and_prunes():
    store = ResumptionStore(validity_s=10.0, max_handles=3)
    handles = [store.issue(ResumableState(Conversation(), str(i)), now_s=float(i)) for i in range(5)]
    assert len(store) == 3
    with pytest.raises(ResumptionError):
        store.resume(handles[0], now_s=5.0)
    store.issue(ResumableState(Conversation(), "late"), now_s=100.0)  # long after: the old ones are pruned
    assert len(store) == 1


def test_long_turn_starts_a_recording_and_close_turns_continue_it():
    mic = MicRecordingDetector()
    assert mic.classify(0.0, 4.0) == "participant"  # a question
    assert mic.classify(10.0, 40.0) == "recording_starts"  # 30 s without room for an answer
    assert mic.classify(41.5, 52.0) == "recording_continues"  # the talk goes on after 1.5 s
    assert mic.classify(53.0, 54.5) == "participant"  # a quick question is never swallowed
    assert mic.classify(53.0, 62.0) == "recording_continues"  # ...but the same audio going on is the talk
    assert mic.classify(66.0, 72.0) == "participant"  # 4 s after: a participant again
    assert mic.classify(73.0, 77.0) == "participant"


def test_a_pause_longer_than_the_gap_ends_the_recording():
    mic = MicRecordingDetector()
    assert mic.classify(0.0, 25.0) == "recording_starts"
    assert mic.classify(28.0, 35.0) == "participant"


def test_a_recording_begins_where_its_run_of_close_turns_began():
    mic = MicRecordingDetector()
    assert mic.classify(0.0, 2.0) == "participant"  # "how do I get to Dublin?" (answered, wrongly)
    assert mic.classify(2.7, 6.8) == "participant"
    assert mic.classify(8.9, 30.0) == "recording_starts"
    assert mic.chain_start_s == 0.0  # the recording is heard from 0 s, not from 8.9 s
    assert mic.classify(40.0, 44.0) == "participant" and mic.chain_start_s == 40.0
