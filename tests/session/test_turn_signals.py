"""#15's turn signals in the controller: NEED_MORE_INPUT for a request only started, and the
speaker and offsets an input transcription carries."""

from __future__ import annotations

import numpy as np

from chimein.session import events as ev

from .fakes import Script, audio, of, one


def test_a_request_only_started_waits_for_more_input_and_joins_the_next_speech():
    s = Script(input_transcription=True)
    wait = one(s.turn(1.0, 2.0, "Can you tell me..."), ev.WaitGrace)
    after = s.feed(ev.GraceElapsed(wait.reply_id))
    assert one(after, ev.WaitForInput).reply_id == wait.reply_id and not of(after, ev.Respond)
    assert s.state == "listening"
    s.at(6.2)
    s.feed(ev.Started(6.0, -20.0))
    s.at(8.8)
    turn = one(s.feed(ev.Ended(8.0, audio(2.5))), ev.EndTurn).turn
    assert turn.carry_start_s == 1.0 and turn.start_s == 1.0  # one request across the pause


def test_an_ordinary_unfinished_sentence_is_still_answered_after_its_grace():
    s = Script()
    wait = one(s.turn(1.0, 3.0, "I was thinking we could maybe"), ev.WaitGrace)
    assert of(s.feed(ev.GraceElapsed(wait.reply_id)), ev.Respond)


def test_the_transcription_names_the_voice_and_the_turns_place_on_the_input_clock():
    s = Script(input_transcription=True)
    voice = np.zeros(256, np.float32)
    voice[0] = 1.0
    sent = one(s.turn(1.0, 2.5, "What is the capital of France?", embedding=voice), ev.SendTranscription)
    assert (sent.speaker, sent.start_s, sent.end_s) == ("spk_1", 1.0, 2.5)
