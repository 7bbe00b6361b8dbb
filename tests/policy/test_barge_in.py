"""Overlap verdicts: back-channels resume the answer, real interruptions stop it."""

from __future__ import annotations

import pytest

from chimein.policy.barge_in import (
    is_backchannel,
    is_stop_request,
    judge_overlap,
    own_voice_veto,
    sounds_like_assistant,
)


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


@pytest.mark.parametrize(("heard", "said"), [
    ("Plan it to the...", "The planets of the solar system are Mercury, Venus"),
    ("Can make it to...", "You can make a good tomato sauce with"),
])
def test_our_voice_misheard_is_recognised(heard, said):
    assert sounds_like_assistant(heard, said)
    verdict = judge_overlap(duration_s=0.9, still_speaking=False, transcript=heard, recent_assistant_text=said)
    assert verdict.action == "resume" and "own voice" in verdict.reason


@pytest.mark.parametrize(("heard", "said"), [
    ("How long should the dough rest?", "Knead the dough, then the dough should rest for an hour in a warm place"),
    ("Is Pluto a planet too?", "The planets of the solar system are Mercury, Venus, Earth"),
    ("Tell me more about the sauce", "You can make a good tomato sauce with garlic"),
    ("Wait, stop the planets", "The planets of the solar system are"),
])
def test_a_question_reusing_the_answers_words_is_not_an_echo(heard, said):
    assert not sounds_like_assistant(heard, said)


def test_microphone_following_the_reference_is_our_voice_unless_it_asks_to_stop():
    assert judge_overlap(duration_s=0.8, still_speaking=False, transcript="Mercury the...", follows_reference=0.9).action == "resume"
    assert judge_overlap(duration_s=0.8, still_speaking=False, transcript="Wait, stop.", follows_reference=0.9).action == "interrupt"
    assert judge_overlap(duration_s=0.8, still_speaking=False, transcript="Mercury the...", follows_reference=0.5).action == "interrupt"


def test_over_a_loudspeaker_a_short_phrase_needs_a_stop_word():
    kwargs = {"duration_s": 0.8, "still_speaking": False, "speech_s": 0.8, "loudspeaker": True}
    assert judge_overlap(transcript="May the twelfth.", **kwargs).action == "resume"
    assert judge_overlap(transcript="Wait, stop.", **kwargs).action == "interrupt"
    assert judge_overlap(duration_s=0.8, still_speaking=True, transcript="May the", loudspeaker=True).action == "wait"
    # Speaking on past LONG_OVERLAP_S is an interruption, loudspeaker or not.
    assert judge_overlap(duration_s=1.5, still_speaking=True, transcript="How long should it", loudspeaker=True).action == "interrupt"


def test_a_few_words_still_being_said_are_heard_out_before_they_count_as_a_request():
    """The answer is already held; "uh-huh" recognised as "It hurts." while still being said must not
    stop it (the bench's backchannel-uh-huh took over once this way), nor once it ends short."""
    assert judge_overlap(duration_s=0.47, still_speaking=True, transcript="It hurts.").action == "wait"
    assert judge_overlap(duration_s=0.9, still_speaking=False, transcript="It hurts.", speech_s=0.54).action == "resume"
    assert judge_overlap(duration_s=0.6, still_speaking=True, transcript="Can you tell me the time").action == "interrupt"
    assert judge_overlap(duration_s=0.4, still_speaking=True, transcript="Stop.").action == "interrupt"


def test_a_voice_like_the_assistants_asking_it_to_stop_is_not_taken_for_its_echo():
    """A newcomer whose voice resembles the assistant's (voice print 0.8 to its own, 0.2 to the
    people so far) says "Wait, stop.": the words decide, as they do over the reference check."""
    assert own_voice_veto(0.8, 0.2, "Wait, stop.") is None
    assert own_voice_veto(0.8, 0.2, "tell me about trains instead").action == "resume"
    assert own_voice_veto(0.8, 0.2, None).action == "resume"
