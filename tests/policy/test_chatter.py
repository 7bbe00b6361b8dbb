"""Background or participant: level and voice print relative to the people at the table."""

from __future__ import annotations

import numpy as np

from chimein.perception.speakers import Match, Voice
from chimein.policy.chatter import background_reason, calls_assistant, overrules_level, reference_level_db
from chimein.policy.instruction import parse_instruction


def _voice(levels: list[float]) -> Voice:
    return Voice(name="A", centroid=np.ones(256, np.float32) / 16, levels=levels)


def test_nothing_is_background_before_anyone_is_known():
    assert background_reason(-45.0, Match(None, 0.1), None) is None


def test_an_unknown_voice_needs_a_smaller_gap_than_unidentified_speech():
    # Side talk at -8 dB is caught either way; at -6 dB only when the voice is known to be a stranger.
    assert "unknown voice" in background_reason(-32.0, Match(None, 0.2), -26.0)
    assert background_reason(-32.0, None, -26.0) is None
    assert "below the participants" in background_reason(-34.0, None, -26.0)
    # A new person a little further from the microphone (-4 dB) is a participant.
    assert background_reason(-30.0, Match(None, 0.2), -26.0) is None


def test_a_participant_leaning_back_is_still_a_participant():
    assert background_reason(-40.0, Match(_voice([-26.0, -27.0]), 0.8), -26.0) is None


def test_a_voice_that_was_always_far_below_is_background():
    # A TV learned at the start of the session, before anyone louder spoke.
    tv = _voice([-41.0, -43.0])
    assert "always" in background_reason(-42.0, Match(tv, 0.8), -26.0)
    assert background_reason(-27.0, Match(tv, 0.8), -26.0) is None  # ...unless it now speaks up close


def _named(name: str, levels: list[float], enrolled: bool = False) -> Voice:
    return Voice(name=name, centroid=np.ones(256, np.float32) / 16, levels=levels, enrolled=enrolled)


def test_the_reference_is_not_the_loudest_voice_heard_first():
    # A loud recording (-18 dBFS) was heard, then two people at -27/-29: the median, not the maximum.
    voices = [_named("speaker 1", [-18.0]), _named("speaker 2", [-27.0]), _named("speaker 3", [-29.0])]
    assert reference_level_db(voices) == -27.0
    # Once people were answered, only they (and the enrolled) set the reference.
    assert reference_level_db(voices, answered={"speaker 3"}) == -29.0
    enrolled = [*voices, _named("A", [-30.0], enrolled=True)]
    assert reference_level_db(enrolled, answered={"speaker 3"}) == -29.5
    assert reference_level_db([], recent_levels=[-20.0, -30.0, -28.0]) == -28.0
    assert reference_level_db([]) is None


def test_only_a_turn_that_addresses_the_assistant_overrules_its_level():
    assert overrules_level("name", True)
    assert overrules_level("wake_phrase", True)
    assert overrules_level("topic", True)
    # A general question in the default mode is what side talk sounds like: level still decides.
    assert not overrules_level("addressed_request", True)
    assert not overrules_level("topic", False)
    assert not overrules_level(None, True)


def test_quiet_speech_over_an_answer_counts_only_when_it_calls_the_assistant():
    pip = parse_instruction("You are Pip, a houseplant helper. Only respond when someone says your name.")
    assert calls_assistant("Hey Pip, play some music.", pip) == "name"
    assert calls_assistant("Pip, is it time to water the fern?", pip) == "name"
    assert calls_assistant("and the weather for tomorrow is mostly sunny", pip) is None
    assert calls_assistant("Should I repot the monstera in spring?", pip) is None  # on topic, but no call
    wake = parse_instruction("Respond only when someone says 'okay kitchen'.")
    assert calls_assistant("Okay kitchen, set a timer for ten minutes.", wake) == "wake_phrase"
    assert calls_assistant("I told him the kitchen was okay.", wake) is None
    default = parse_instruction("You are a helpful assistant.")
    assert calls_assistant("Assistant, what time is it?", default) == "role"

