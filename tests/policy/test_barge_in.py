"""Overlap verdicts: back-channels resume the answer, real interruptions stop it."""

from __future__ import annotations

import pytest

from chimein.policy.barge_in import is_backchannel, is_stop_request, judge_overlap


@pytest.mark.parametrize("text", ["Uh-huh.", "Mm-hmm", "yeah", "Okay, right.", "Oh wow", "", "I see."])
def test_backchannels(text):
    assert is_backchannel(text)
    assert judge_overlap(duration_s=0.5, still_speaking=False, transcript=text).action == "resume"


@pytest.mark.parametrize("text", ["Wait, stop.", "Stop.", "Hold on", "Sorry, actually", "No no no"])
def test_stop_words_interrupt_even_when_short(text):
    assert judge_overlap(duration_s=0.4, still_speaking=False, transcript=text).action == "interrupt"


def test_a_new_request_interrupts():
    verdict = judge_overlap(duration_s=0.9, still_speaking=False, transcript="What about the oven temperature?")
    assert verdict.action == "interrupt" and "new request" in verdict.reason


def test_long_overlap_interrupts_without_words():
    assert judge_overlap(duration_s=1.5, still_speaking=True, transcript=None).action == "interrupt"
    assert judge_overlap(duration_s=0.3, still_speaking=True, transcript=None).action == "wait"


def test_backchannel_still_going_waits_for_the_rest():
    assert judge_overlap(duration_s=0.7, still_speaking=True, transcript="Yeah").action == "wait"


def test_own_voice_heard_back_resumes():
    said = "First make the dough with flour, water, yeast and salt"
    assert judge_overlap(duration_s=1.5, still_speaking=True, transcript="make the dough with flour",
                         assistant_text=said).action == "resume"


@pytest.mark.parametrize(("text", "stop"), [("Wait, stop.", True), ("Wait, stop, that's enough.", True),
                                            ("Hold on a second", True), ("Wait, what about the oven?", False)])
def test_stop_requests_need_no_answer(text, stop):
    assert is_stop_request(text) is stop


def test_slow_recognition_does_not_turn_a_backchannel_into_an_interruption():
    """The overlap stopped after 0.5 s; the recogniser answered 1.6 s after its onset, with a hallucination."""
    verdict = judge_overlap(duration_s=1.6, still_speaking=False, transcript="at home", speech_s=0.54)
    assert verdict.action == "resume"
