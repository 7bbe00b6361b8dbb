"""The turn controller on virtual time: scripted activity, scores and transcripts; no model, no loop."""

from __future__ import annotations

from chimein.policy.endpointing import CALL_WAIT_S, PAUSE_GRACE_S, PAUSE_GRACE_TEXT_S
from chimein.policy.proactivity import Decision
from chimein.session import events as ev

from .fakes import Script, audio, emitted, of, one, unit

# ---------------------------------------------------------------------------------- turns


def test_a_new_session_is_listening():
    assert Script().state == "listening"


def test_speech_start_and_end_make_one_turn():
    s = Script()
    s.at(1.2)
    started = s.feed(ev.Started(1.0, -20.0))
    assert emitted(started, "speech_started") == [{"at_s": 1.0}]
    assert s.state == "user_speaking"
    ended = s.feed(ev.Ended(2.5, audio(1.8)))
    turn = one(ended, ev.EndTurn).turn
    assert (turn.start_s, turn.end_s, turn.carry_start_s, turn.interrupting) == (1.0, 2.5, None, False)
    assert s.state == "deciding"


def test_a_transcribed_turn_is_sent_and_answered():
    s = Script(input_transcription=True)
    actions = s.turn(1.0, 2.5, "What is the capital of France?")
    assert one(actions, ev.SendTranscription).text == "What is the capital of France?"
    respond = one(actions, ev.Respond)
    assert respond.text == "What is the capital of France?" and not respond.already_in_memory
    assert emitted(actions, "transcribed")[0]["ended_at_s"] == 2.5


def test_later_transcriptions_start_with_a_space():
    s = Script(input_transcription=True)
    rid = s.answered(1.0, 2.0, "Hello there?")
    s.feed(ev.ReplyFinished(rid, heard_until_s=4.0))
    actions = s.turn(10.0, 11.0, "And you?")
    assert one(actions, ev.SendTranscription).text == " And you?"


def test_a_turn_without_words_is_ignored():
    s = Script()
    actions = s.turn(1.0, 1.3, "  ")
    assert emitted(actions, "ignored")[0]["reason"].startswith("no words")
    assert of(actions, ev.Drop) and not of(actions, ev.Respond)
    assert s.state == "listening"


def test_a_full_answer_cycle_walks_the_states():
    s = Script()
    seen = [s.state]
    s.at(1.2)
    s.feed(ev.Started(1.0, -20.0))
    seen.append(s.state)
    turn = one(s.feed(ev.Ended(2.0, audio(1.3))), ev.EndTurn).turn
    seen.append(s.state)
    respond = one(s.feed(ev.TurnTranscribed(turn.id, "What time is it?", -20.0, 1.0, 1.3)), ev.Respond)
    generate = one(s.feed(ev.Decided(respond.reply_id, None)), ev.Generate)
    assert generate.reply_id == respond.reply_id
    s.feed(ev.ReplyAudible(respond.reply_id))
    seen.append(s.state)
    s.feed(ev.ReplyFinished(respond.reply_id, heard_until_s=5.0))
    seen.append(s.state)
    assert seen == ["listening", "user_speaking", "deciding", "speaking", "listening"]


def test_words_said_so_far_go_into_the_answers_prompt_while_the_person_speaks():
    """Every 0.6 s of an utterance its words so far are asked for (#12), not in a pause (its words
    are being transcribed for the end of the turn already)."""
    s = Script()
    s.at(1.2)
    s.feed(ev.Started(1.0, -20.0))
    assert not of(s.at(1.5), ev.PrefillPartial)
    first = one(s.at(1.6), ev.PrefillPartial)
    assert (first.utterance_id, first.at_s, first.carry_start_s) == (1, 1.6, None)
    assert not of(s.at(2.1), ev.PrefillPartial)
    assert not of(s.feed(ev.Heard(2.2, silent_s=0.064)), ev.PrefillPartial)  # the voice has just stopped
    assert one(s.at(2.25), ev.PrefillPartial).at_s == 2.25
    s.feed(ev.Paused(2.3, audio(1.5)))
    assert not of(s.at(3.0), ev.PrefillPartial)
    s.feed(ev.Resumed(3.1))
    assert one(s.at(3.1), ev.PrefillPartial).at_s == 3.1
    s.feed(ev.Ended(3.5, audio(2.8)))
    assert not of(s.at(4.5), ev.PrefillPartial)  # the turn is over


def test_words_so_far_are_not_asked_for_when_off():
    s = Script(partial_prefill_every_s=0.0)
    s.at(1.2)
    s.feed(ev.Started(1.0, -20.0))
    assert not of(s.at(3.0), ev.PrefillPartial)


# ---------------------------------------------------------------------------------- pauses


def test_a_complete_pause_ends_the_utterance_now():
    s = Script()
    s.at(1.2)
    s.feed(ev.Started(1.0, -20.0))
    score = one(s.feed(ev.Paused(2.0, audio(1.5))), ev.ScorePause)
    assert score.speculative
    end = one(s.feed(ev.PauseScored(score.utterance_id, score.pause_id, 2.0, 0.9)), ev.EndUtterance)
    assert s.ctrl.may_end_utterance(end)
    assert emitted(s.actions, "end_of_turn_scored") == [{"at_s": 2.0, "probability": 0.9}]


def test_an_incomplete_pause_waits_for_more():
    s = Script()
    s.feed(ev.Started(1.0, -20.0))
    score = one(s.feed(ev.Paused(2.0, audio(1.5))), ev.ScorePause)
    assert not of(s.feed(ev.PauseScored(score.utterance_id, score.pause_id, 2.0, 0.3)), ev.EndUtterance)


def test_a_whole_question_at_a_pause_smart_turn_doubted_ends_the_utterance():
    s = Script()
    s.feed(ev.Started(1.0, -20.0))
    score = one(s.feed(ev.Paused(2.0, audio(1.5))), ev.ScorePause)
    s.feed(ev.PauseScored(score.utterance_id, score.pause_id, 2.0, 0.3))
    words = s.feed(ev.PauseTranscribed(score.utterance_id, score.pause_id, "What is the boiling point of water?"))
    end = one(words, ev.EndUtterance)
    assert s.ctrl.may_end_utterance(end)
    assert emitted(words, "end_of_turn_words") == [{"text": "What is the boiling point of water?"}]


def test_words_at_a_pause_that_trail_off_or_come_too_late_end_nothing():
    s = Script()
    s.feed(ev.Started(1.0, -20.0))
    score = one(s.feed(ev.Paused(2.0, audio(1.5))), ev.ScorePause)
    s.feed(ev.PauseScored(score.utterance_id, score.pause_id, 2.0, 0.3))
    for unfinished in ("I was thinking about", "Could you tell me?", "Is it?", "And what about the?"):
        assert not of(s.feed(ev.PauseTranscribed(score.utterance_id, score.pause_id, unfinished)), ev.EndUtterance)
    s.feed(ev.Resumed(2.4))  # the speaker went on before the words were ready
    late = ev.PauseTranscribed(score.utterance_id, score.pause_id, "What is the boiling point of water?")
    assert not of(s.feed(late), ev.EndUtterance)


def test_a_score_for_a_pause_the_speaker_left_is_stale():
    s = Script()
    s.feed(ev.Started(1.0, -20.0))
    score = one(s.feed(ev.Paused(2.0, audio(1.5))), ev.ScorePause)
    s.feed(ev.Resumed(2.3))
    assert not of(s.feed(ev.PauseScored(score.utterance_id, score.pause_id, 2.0, 0.95)), ev.EndUtterance)


def test_a_flush_asked_for_an_earlier_pause_no_longer_applies():
    s = Script()
    s.feed(ev.Started(1.0, -20.0))
    score = one(s.feed(ev.Paused(2.0, audio(1.5))), ev.ScorePause)
    end = one(s.feed(ev.PauseScored(score.utterance_id, score.pause_id, 2.0, 0.9)), ev.EndUtterance)
    s.feed(ev.Resumed(2.2))  # the runner had not flushed yet when the speaker went on
    assert not s.ctrl.may_end_utterance(end)


def test_a_score_for_a_finished_utterance_is_ignored():
    s = Script()
    s.feed(ev.Started(1.0, -20.0))
    score = one(s.feed(ev.Paused(2.0, audio(1.5))), ev.ScorePause)
    s.feed(ev.Ended(2.0, audio(1.5)))
    s.feed(ev.Started(5.0, -20.0))
    assert s.feed(ev.PauseScored(score.utterance_id, score.pause_id, 2.0, 0.9)) == []


def test_the_silence_baseline_never_scores_pauses():
    s = Script(end_of_turn="silence")
    s.feed(ev.Started(1.0, -20.0))
    assert not of(s.feed(ev.Paused(2.0, audio(1.5))), ev.ScorePause)


def test_an_unfinished_sentence_gets_a_grace_before_the_answer():
    s = Script()
    actions = s.turn(1.0, 3.0, "I was thinking we could maybe")
    wait = one(actions, ev.WaitGrace)
    assert wait.seconds == PAUSE_GRACE_TEXT_S and not of(actions, ev.Respond)
    respond = one(s.feed(ev.GraceElapsed(wait.reply_id)), ev.Respond)
    assert respond.text == "I was thinking we could maybe"


def test_an_unfinished_sound_gets_the_shorter_grace():
    s = Script()
    s.feed(ev.Started(1.0, -20.0))
    score = one(s.feed(ev.Paused(2.0, audio(1.5))), ev.ScorePause)
    s.feed(ev.PauseScored(score.utterance_id, score.pause_id, 2.0, 0.05))
    turn = one(s.feed(ev.Ended(2.0, audio(1.5))), ev.EndTurn).turn
    assert turn.eot_probability == 0.05 and turn.speculative_pause_id == score.pause_id
    wait = one(s.feed(ev.TurnTranscribed(turn.id, "I like cooking.", -20.0, 1.0, 1.5)), ev.WaitGrace)
    assert wait.seconds == PAUSE_GRACE_S


# ---------------------------------------------------------------------------------- continuation


def test_speaking_again_before_the_answer_continues_the_turn():
    s = Script()
    first = one(s.utterance(1.0, 2.0), ev.EndTurn)
    s.at(2.9)
    started = s.feed(ev.Started(2.7, -20.0))
    assert one(started, ev.Drop).reply_id == first.reply_id
    assert emitted(started, "answer_dropped")
    score = one(s.feed(ev.Paused(4.0, audio(1.5))), ev.ScorePause)
    assert score.carry_start_s == 1.0  # its pause is transcribed from the turn's start, as the turn will be
    second = one(s.feed(ev.Ended(4.0, audio(1.5))), ev.EndTurn).turn
    assert second.carry_start_s == 1.0 and second.start_s == 1.0
    assert second.speculative_pause_id == score.pause_id


def test_speech_begun_before_the_answer_was_audible_continues_the_turn():
    """The answer's first audio went out while the speaker's next words were still being confirmed:
    nobody reacted to the answer, the speaker had only paused. It stops, and the line goes on."""
    s = Script()
    rid = s.answered(1.0, 2.0)  # audible with the input clock at 2.8 s
    s.at(3.0)
    started = s.feed(ev.Started(2.7, -20.0))
    assert one(started, ev.Interrupt).reply_id == rid and not of(started, ev.Hold)
    assert emitted(started, "turn_continued")[0]["answer_id"] == rid
    assert s.state == "user_speaking"
    turn = one(s.feed(ev.Ended(4.0, audio(1.8))), ev.EndTurn).turn
    assert turn.carry_start_s == 1.0 and turn.start_s == 1.0 and turn.own_start_s == 2.7
    assert not turn.interrupting


def test_speech_begun_after_the_answer_was_audible_is_judged_as_an_overlap():
    s = Script()
    rid = s.answered(1.0, 2.0)
    s.at(3.1)
    started = s.feed(ev.Started(2.9, -20.0))
    assert one(started, ev.Hold).reply_id == rid and not of(started, ev.Interrupt)
    assert not emitted(started, "turn_continued")


def test_a_transcript_of_a_turn_that_went_on_is_stale():
    s = Script()
    first = one(s.utterance(1.0, 2.0), ev.EndTurn)
    s.feed(ev.Started(2.7, -20.0))
    assert s.feed(ev.TurnTranscribed(first.turn.id, "What", -20.0, 1.0, 1.0)) == []


def test_speaking_during_the_grace_drops_the_waiting_answer():
    s = Script()
    wait = one(s.turn(1.0, 3.0, "Can you tell me"), ev.WaitGrace)
    assert one(s.feed(ev.Started(3.8, -20.0)), ev.Drop).reply_id == wait.reply_id
    assert s.feed(ev.GraceElapsed(wait.reply_id)) == []


def test_speaking_while_the_policy_decides_drops_the_answer():
    s = Script(proactive=True)
    respond = one(s.turn(1.0, 2.0, "Tell me about pasta."), ev.Respond)
    s.feed(ev.Started(2.6, -20.0))
    assert s.feed(ev.Decided(respond.reply_id, Decision(True, "r", "on topic"))) == []


CALL = Decision(True, "wake_phrase", "answering: wake phrase 'ok computer' (a statement)", call_only=True)


def test_a_turn_that_only_calls_the_assistant_is_answered_after_a_moment():
    s = Script(proactive=True)
    respond = one(s.turn(1.0, 2.0, "OK computer."), ev.Respond)
    actions = s.feed(ev.Decided(respond.reply_id, CALL))
    assert one(actions, ev.WaitGrace).seconds == CALL_WAIT_S and not of(actions, ev.Generate)
    assert one(s.feed(ev.GraceElapsed(respond.reply_id)), ev.Generate).decision is CALL


def test_the_request_after_a_bare_call_joins_it_before_anything_is_said():
    """'OK computer. What is the capital of Australia?': the question began while the call's answer
    waited; that answer is dropped unsaid and the whole line is one turn (bench: wake-ok-computer)."""
    s = Script(proactive=True, input_transcription=True)
    respond = one(s.turn(1.0, 2.0, "OK computer."), ev.Respond)
    s.feed(ev.Decided(respond.reply_id, CALL))
    started = s.feed(ev.Started(2.4, -20.0))
    assert one(started, ev.Drop).reply_id == respond.reply_id and emitted(started, "answer_dropped")
    turn = one(s.feed(ev.Ended(4.5, audio(3.5))), ev.EndTurn).turn
    assert turn.carry_start_s == 1.0
    actions = s.feed(ev.TurnTranscribed(turn.id, "OK computer. What is the capital of Australia?", -20.0, 3.0, 3.5))
    assert one(actions, ev.SendTranscription).text == " What is the capital of Australia?"
    assert one(actions, ev.Respond).replaces == "OK computer."
    assert s.feed(ev.GraceElapsed(respond.reply_id)) == []  # the dropped call's wait ends with nothing


def test_a_call_the_joined_clip_lost_stays_a_line_of_its_own():
    """Whisper heard the joined call and request as the request alone: the call is not taken out
    of memory, so the request still follows a call (stranger run, Flite awb)."""
    s = Script(proactive=True, input_transcription=True)
    respond = one(s.turn(1.0, 2.0, "OK computer."), ev.Respond)
    s.feed(ev.Decided(respond.reply_id, CALL))
    s.feed(ev.Started(2.4, -20.0))
    turn = one(s.feed(ev.Ended(4.5, audio(3.5))), ev.EndTurn).turn
    actions = s.feed(ev.TurnTranscribed(turn.id, "What is the capital of Australia?", -20.0, 3.0, 3.5))
    assert one(actions, ev.SendTranscription).text == " What is the capital of Australia?"
    assert one(actions, ev.Respond).replaces is None


def test_a_line_that_was_not_a_call_is_replaced_by_its_joined_transcript():
    """Only a call is kept beside its joined clip: a declined line's words, heard differently in the
    joined clip, are replaced so the line is remembered once."""
    s = Script(proactive=True)
    one(s.turn(1.0, 2.0, "We planted tomatoes."), ev.Respond)
    s.feed(ev.Started(2.4, -20.0))  # the speaker goes on while the policy decides
    turn = one(s.feed(ev.Ended(4.5, audio(3.5))), ev.EndTurn).turn
    actions = s.feed(ev.TurnTranscribed(turn.id, "Replanted tomatoes, when do they need water?", -20.0, 3.0, 3.5))
    assert one(actions, ev.Respond).replaces == "We planted tomatoes."


def test_a_typed_call_is_answered_at_once():
    s = Script(proactive=True)
    respond = one(s.feed(ev.TextTurn("OK computer.")), ev.Respond)
    assert one(s.feed(ev.Decided(respond.reply_id, CALL)), ev.Generate).decision is CALL


def test_a_call_with_its_request_is_answered_at_once():
    s = Script(proactive=True)
    respond = one(s.turn(1.0, 3.0, "OK computer, what is the capital of Australia?"), ev.Respond)
    decision = Decision(True, "wake_phrase", "answering: wake phrase 'ok computer' (a question)")
    assert one(s.feed(ev.Decided(respond.reply_id, decision)), ev.Generate).decision is decision


def _declined_line(s: Script, text: str = "I really like Italian food;") -> ev.UserTurn:
    respond = one(s.turn(1.0, 2.0, text), ev.Respond)
    s.feed(ev.Decided(respond.reply_id, Decision(False, "statement", "a statement, not a request")))
    return one(s.actions, ev.EndTurn).turn


def test_speech_begun_before_the_decline_continues_the_declined_line():
    """The demo's race: the decline came before the speaker's next words were confirmed. The line
    goes on all the same, as it would had the policy been slower (policy/turns.py)."""
    s = Script(proactive=True, input_transcription=True)
    earlier = _declined_line(s)  # declined with the input clock at 2.8 s
    declined_id = one(s.actions, ev.Decline).reply_id
    started = s.feed(ev.Started(2.37, -20.0))  # confirmed after the decline, begun before it
    continued = emitted(started, "turn_continued")[0]
    assert continued["earlier_text"] == "I really like Italian food;"
    assert continued["answer_id"] == declined_id  # the client's card for the declined line
    turn = one(s.feed(ev.Ended(4.5, audio(2.3))), ev.EndTurn).turn
    assert turn.carry_start_s == 1.0 and turn.earlier is earlier and turn.own_start_s == 2.37
    actions = s.feed(ev.TurnTranscribed(turn.id, "I really like Italian food. Do you know how to make a pizza?",
                                        -20.0, 3.0, 3.5))
    assert one(actions, ev.SendTranscription).text == " Do you know how to make a pizza?"  # not its start again
    respond = one(actions, ev.Respond)
    assert respond.text.endswith("make a pizza?") and respond.replaces == "I really like Italian food;"


def test_words_sent_before_a_link_that_was_never_transcribed_are_not_sent_again():
    s = Script(proactive=True, input_transcription=True)
    _declined_line(s, "Good evening.")
    s.feed(ev.Started(2.3, -20.0))
    middle = one(s.feed(ev.Ended(3.0, audio(2.0))), ev.EndTurn)
    s.feed(ev.Started(3.5, -20.0))  # it goes on again before the middle part was transcribed
    turn = one(s.feed(ev.Ended(4.5, audio(3.5))), ev.EndTurn).turn
    assert turn.earlier is middle.turn and middle.turn.text == ""
    actions = s.feed(ev.TurnTranscribed(turn.id, "Good evening. I really love cooking, don't you?", -20.0, 3.0, 3.5))
    assert one(actions, ev.SendTranscription).text == " I really love cooking, don't you?"
    assert one(actions, ev.Respond).replaces == "Good evening."


def test_speech_begun_after_the_decline_is_a_turn_of_its_own():
    s = Script(proactive=True)
    _declined_line(s)
    s.at(3.1)
    assert not emitted(s.feed(ev.Started(2.9, -20.0)), "turn_continued")
    turn = one(s.feed(ev.Ended(4.5, audio(1.5))), ev.EndTurn).turn
    assert turn.carry_start_s is None and turn.earlier is None


def test_a_continued_line_heard_a_little_differently_sends_only_its_new_words():
    """The client already has the earlier words (as first heard): a sentence is not sent twice."""
    s = Script(proactive=True, input_transcription=True)
    _declined_line(s, "I really like Italian food.")
    s.feed(ev.Started(2.3, -20.0))
    turn = one(s.feed(ev.Ended(4.5, audio(2.3))), ev.EndTurn).turn
    actions = s.feed(ev.TurnTranscribed(turn.id, "I really liked Italian food, do you know pizza?", -20.0, 3.0, 3.5))
    assert one(actions, ev.SendTranscription).text == " do you know pizza?"
    assert one(actions, ev.Respond).text == "I really liked Italian food, do you know pizza?"  # decided whole


def test_a_continued_line_that_added_no_words_is_not_sent_again():
    """The speaker went on with a short sound Whisper heard no words in: the joined clip is the same
    sentence, which the client already has (8 sessions under load sent it twice)."""
    s = Script(proactive=True, input_transcription=True)
    _declined_line(s, "Not really, just the duplication of effort.")
    s.feed(ev.Started(2.3, -20.0))
    turn = one(s.feed(ev.Ended(2.6, audio(1.6))), ev.EndTurn).turn
    actions = s.feed(ev.TurnTranscribed(turn.id, "Not really, just the duplication of effort.", -20.0, 1.6, 1.6))
    assert not of(actions, ev.SendTranscription)
    assert one(actions, ev.Respond).replaces == "Not really, just the duplication of effort."  # still decided


def test_a_continued_line_whose_transcript_changed_is_sent_whole():
    s = Script(proactive=True, input_transcription=True)
    _declined_line(s, "I really like Italian food.")
    s.feed(ev.Started(2.3, -20.0))
    turn = one(s.feed(ev.Ended(4.5, audio(2.3))), ev.EndTurn).turn
    sent = one(s.feed(ev.TurnTranscribed(turn.id, "I would love pasta and food, do you know pizza?", -20.0, 3.0, 3.5)),
               ev.SendTranscription)
    assert sent.text == " I would love pasta and food, do you know pizza?"  # nothing lost


# ---------------------------------------------------------------------------------- decisions


def test_a_proactive_decline_sends_no_answer():
    s = Script(proactive=True)
    respond = one(s.turn(1.0, 2.0, "Did you see the game last night?"), ev.Respond)
    decision = Decision(False, "off_topic", "people talking among themselves")
    decline = one(s.feed(ev.Decided(respond.reply_id, decision)), ev.Decline)
    assert decline.decision is decision
    assert s.state == "listening"


def test_an_acknowledgement_right_after_an_answer_is_not_a_turn():
    s = Script(proactive=True)
    rid = s.answered(1.0, 2.0)
    s.feed(ev.ReplyFinished(rid, heard_until_s=6.0))
    actions = s.turn(7.0, 7.4, "Okay.", voiced_s=0.3)
    assert emitted(actions, "ignored")[0]["reason"].startswith("a short acknowledgement")
    assert not of(actions, ev.Respond)


def test_a_question_right_after_an_answer_is_a_turn():
    s = Script(proactive=True)
    rid = s.answered(1.0, 2.0)
    s.feed(ev.ReplyFinished(rid, heard_until_s=6.0))
    assert of(s.turn(7.0, 7.4, "Why?", voiced_s=0.3), ev.Respond)


def test_acknowledgements_are_only_filtered_with_proactive_audio():
    s = Script()
    rid = s.answered(1.0, 2.0)
    s.feed(ev.ReplyFinished(rid, heard_until_s=6.0))
    assert of(s.turn(7.0, 7.4, "Okay.", voiced_s=0.3), ev.Respond)


def test_background_speech_well_below_the_participants_is_ignored():
    s = Script(proactive=True)  # telling background from participants is part of Proactive Audio (#11)
    rid = s.answered(1.0, 2.0, level_db=-20.0)
    s.feed(ev.ReplyFinished(rid, heard_until_s=5.0))
    actions = s.turn(10.0, 12.0, "and then the weather tomorrow", level_db=-35.0)
    assert "background speech" in emitted(actions, "ignored")[0]["reason"]


def test_with_proactive_audio_off_a_quiet_speaker_is_answered():
    """#11: a plain voice assistant answers every completed turn, however far the speaker sits."""
    s = Script()
    rid = s.answered(1.0, 2.0, level_db=-20.0)
    s.feed(ev.ReplyFinished(rid, heard_until_s=5.0))
    actions = s.turn(10.0, 12.0, "what time is it in Tokyo", level_db=-37.0)
    assert not emitted(actions, "ignored")
    assert one(actions, ev.Respond).text == "what time is it in Tokyo"


def test_a_quiet_turn_that_calls_the_assistant_is_never_dropped_for_its_level():
    s = Script(proactive=True)
    rid = s.answered(1.0, 2.0, level_db=-20.0)
    s.feed(ev.ReplyFinished(rid, heard_until_s=5.0))
    end = s.utterance(10.0, 12.0, level_db=-35.0)
    turn = one(end, ev.EndTurn).turn
    actions = s.feed(ev.TurnTranscribed(turn.id, "Nova, what time is it?", -35.0, 1.5, 2.5, None, overrule="name"))
    assert emitted(actions, "level_overruled")[0]["rule"] == "name"
    assert one(actions, ev.Respond).text == "Nova, what time is it?"


def test_voices_are_learned_and_reported():
    s = Script()
    actions = s.turn(1.0, 2.0, "Hello?", embedding=unit(1))
    assert emitted(actions, "speaker") == [{"answer_id": one(actions, ev.Respond).reply_id, "name": "speaker 1",
                                           "new": True, "enrolled": False}]
    assert emitted(actions, "transcribed")[0]["voice"] == "unknown"


# ---------------------------------------------------------------------------------- overlaps


def test_speech_over_the_answer_holds_it_at_once():
    s = Script()
    rid = s.answered(1.0, 2.0)
    s.at(5.2)
    actions = s.feed(ev.Started(5.0, -20.0))
    assert one(actions, ev.Hold).reply_id == rid
    assert s.state == "overlap"


def test_a_back_channel_over_the_answer_resumes_it():
    s = Script()
    rid = s.answered(1.0, 2.0)
    s.at(5.2)
    s.feed(ev.Started(5.0, -20.0))
    s.at(5.5)
    asr = one(s.feed(ev.Ended(5.4, audio(0.6))), ev.TranscribeOverlap)
    assert asr.audio is not None  # the whole back-channel
    actions = s.feed(ev.OverlapTranscribed(asr.overlap_id, "mm-hmm"))
    assert one(actions, ev.Release).reply_id == rid
    assert emitted(actions, "overlap_judged")[0]["action"] == "resume"
    assert not of(actions, ev.EndTurn) and s.state == "speaking"


def test_a_new_request_over_the_answer_interrupts_it_and_is_answered():
    s = Script()
    rid = s.answered(1.0, 2.0)
    s.at(5.2)
    s.feed(ev.Started(5.0, -20.0))
    asr = one(s.at(5.7), ev.TranscribeOverlap)
    assert asr.audio is None  # the open utterance so far
    voice = one(s.feed(ev.OverlapTranscribed(asr.overlap_id, "tell me about trains instead")), ev.CheckOverlapVoice)
    actions = s.feed(ev.OverlapVoice(voice.overlap_id, -20.0, None, None))
    assert one(actions, ev.Interrupt).reply_id == rid
    assert s.state == "user_speaking"
    turn = one(s.feed(ev.Ended(6.5, audio(1.8))), ev.EndTurn).turn
    assert turn.interrupting


def test_the_assistants_own_voice_never_interrupts():
    s = Script()
    rid = s.answered(1.0, 2.0, embedding=unit(1))
    s.at(5.2)
    s.feed(ev.Started(5.0, -20.0))
    asr = one(s.at(5.7), ev.TranscribeOverlap)
    voice = one(s.feed(ev.OverlapTranscribed(asr.overlap_id, "tell me about trains instead")), ev.CheckOverlapVoice)
    actions = s.feed(ev.OverlapVoice(voice.overlap_id, -20.0, unit(2), 0.9))
    assert not of(actions, ev.Interrupt)
    assert one(actions, ev.Release).reply_id == rid
    assert "own voice" in emitted(actions, "overlap_judged")[0]["reason"]
    assert one(actions, ev.EndUtterance)  # the echo's utterance is closed, it is no turn


def test_a_stop_request_in_a_voice_like_the_assistants_interrupts():
    """A newcomer who sounds like the assistant's voice says "Wait, stop.": the words, not the
    voice print, decide (heart answering, a heart-like person cutting in)."""
    s = Script()
    rid = s.answered(1.0, 2.0, embedding=unit(1))
    s.at(5.2)
    s.feed(ev.Started(5.0, -20.0))
    s.at(5.4)
    voice = one(s.feed(ev.Ended(5.6, audio(0.6))), ev.TranscribeOverlap)
    check = one(s.feed(ev.OverlapTranscribed(voice.overlap_id, "Wait, stop.")), ev.CheckOverlapVoice)
    actions = s.feed(ev.OverlapVoice(check.overlap_id, -20.0, unit(2), 0.9))
    assert one(actions, ev.Interrupt).reply_id == rid


def test_an_echo_the_canceller_removed_resumes_the_answer():
    s = Script()
    s.answered(1.0, 2.0)
    s.senses.echo_path, s.senses.removed_db = True, -30.0
    s.at(5.2)
    s.feed(ev.Started(5.0, -20.0))
    asr = one(s.at(5.7), ev.TranscribeOverlap)
    actions = s.feed(ev.OverlapTranscribed(asr.overlap_id, "something else entirely here"))
    assert "echo canceller" in emitted(actions, "overlap_judged")[0]["reason"]


def test_quiet_speech_over_the_answer_is_chatter():
    s = Script(proactive=True)
    _, started = s.quiet_speech_over_answer(-40.0)
    assert not of(started, ev.Hold) and emitted(started, "overlap_ignored")
    check = one(s.feed(ev.Ended(6.0, audio(1.2))), ev.CheckCall)  # heard to its end: is it a call?
    assert s.state == "speaking"
    checked = s.feed(ev.CallChecked(check.check_id, "and then the weather for tomorrow", None))
    assert "background speech" in emitted(checked, "ignored")[0]["reason"]
    assert not of(checked, ev.EndTurn) and not of(checked, ev.Interrupt)
    assert s.state == "speaking"


def test_with_proactive_audio_off_quiet_speech_over_the_answer_is_a_turn():
    """#11, never deaf: a plain voice assistant answers every completed turn; a far speaker who
    talks over the answer does not hold it at once (too quiet), but is answered when done."""
    s = Script()
    rid, started = s.quiet_speech_over_answer(-40.0)
    assert not of(started, ev.Hold)
    s.feed(ev.ReplyFinished(rid, heard_until_s=5.5))
    check = one(s.feed(ev.Ended(8.0, audio(3.0))), ev.CheckCall)
    checked = s.feed(ev.CallChecked(check.check_id, "Unless a system is established for review", None))
    assert not emitted(checked, "ignored")
    assert one(checked, ev.EndTurn).turn.end_s == 8.0


def test_with_proactive_audio_off_quiet_speech_ending_with_the_answer_may_be_its_echo():
    s = Script()
    rid, _ = s.quiet_speech_over_answer(-40.0)
    check = one(s.feed(ev.Ended(6.0, audio(1.0))), ev.CheckCall)
    s.feed(ev.ReplyFinished(rid, heard_until_s=5.9))
    checked = s.feed(ev.CallChecked(check.check_id, "there are seven days in a week", None))
    assert emitted(checked, "ignored") and not of(checked, ev.EndTurn)


def test_with_proactive_audio_off_the_answer_coming_back_quietly_is_still_dropped():
    s = Script()
    rid, _ = s.quiet_speech_over_answer(-45.0, answer_words="The capital of France is Paris, a city on the Seine.")
    check = one(s.feed(ev.Ended(6.0, audio(1.0))), ev.CheckCall)
    s.feed(ev.ReplyFinished(rid, heard_until_s=5.2))
    checked = s.feed(ev.CallChecked(check.check_id, "the capital of France is Paris", None))
    assert "own words" in emitted(checked, "ignored")[0]["reason"] and not of(checked, ev.EndTurn)


def test_a_quiet_participant_calling_the_assistant_over_its_answer_interrupts_it():
    """Level never drops a call by name (#11): the far end of the table says "Hey Pip, ..." while
    the answer plays, too quietly to hold the answer for."""
    s = Script()
    rid, _ = s.quiet_speech_over_answer(-40.0)
    check = one(s.feed(ev.Ended(6.5, audio(1.5))), ev.CheckCall)
    checked = s.feed(ev.CallChecked(check.check_id, "Hey Pip, play some music.", "name"))
    assert one(checked, ev.Interrupt).reply_id == rid
    assert emitted(checked, "level_overruled")[0]["rule"] == "name"
    turn = one(checked, ev.EndTurn).turn
    assert (turn.start_s, turn.end_s, turn.interrupting) == (5.0, 6.5, True)
    assert turn.checked_call == check.check_id  # its words are already known: not transcribed again
    respond = one(s.feed(ev.TurnTranscribed(turn.id, "Hey Pip, play some music.", -40.0, 1.2, 1.5)), ev.Respond)
    assert respond.text == "Hey Pip, play some music."  # an interrupting turn is not background


def test_the_answer_saying_its_own_name_back_through_a_loudspeaker_is_no_call():
    s = Script()
    rid, _ = s.quiet_speech_over_answer(-45.0, answer_words="Pip here, water the fern once a week.")
    check = one(s.feed(ev.Ended(6.0, audio(1.0))), ev.CheckCall)
    checked = s.feed(ev.CallChecked(check.check_id, "Pip here, water the fern", "name"))
    assert "own words" in emitted(checked, "ignored")[0]["reason"] and not of(checked, ev.Interrupt)


def test_a_call_checked_after_the_answer_ended_is_still_a_turn():
    s = Script()
    rid, _ = s.quiet_speech_over_answer(-40.0)
    check = one(s.feed(ev.Ended(6.0, audio(1.0))), ev.CheckCall)
    s.feed(ev.ReplyFinished(rid, heard_until_s=6.1))
    checked = s.feed(ev.CallChecked(check.check_id, "Computer, what time is it?", "role"))
    assert not of(checked, ev.Interrupt) and one(checked, ev.EndTurn).turn.end_s == 6.0


def test_without_interruptions_speech_over_the_answer_is_a_queued_turn():
    s = Script(allow_interruptions=False)
    rid = s.answered(1.0, 2.0)
    s.at(5.2)
    assert not of(s.feed(ev.Started(5.0, -20.0)), ev.Hold)
    end = one(s.feed(ev.Ended(6.0, audio(1.2))), ev.EndTurn)
    assert end.reply_id != rid and rid in s.ctrl.replies  # the first answer plays on


def test_a_back_channel_ending_while_its_flush_is_pending_starts_no_turn():
    """The race of issue #13: a resume is judged while the back-channel is still open, and its own
    SpeechEnded arrives before the runner flushes the detector. It must not become a new turn while
    the old answer is held, and the flush must then do nothing."""
    s = Script()
    rid = s.answered(1.0, 2.0)
    s.at(5.2)
    s.feed(ev.Started(5.0, -20.0))
    s.at(5.5)
    asr = one(s.feed(ev.Paused(5.4, audio(0.9))), ev.TranscribeOverlap)  # paused: judge it by its words
    judged = s.feed(ev.OverlapTranscribed(asr.overlap_id, "yeah"))
    flush = one(judged, ev.EndUtterance)
    assert one(judged, ev.Release).reply_id == rid
    late = s.feed(ev.Ended(5.6, audio(0.9)))  # the silence timeout won the race
    assert not of(late, ev.EndTurn) and not of(late, ev.Drop) and not of(late, ev.Interrupt)
    assert not s.ctrl.may_end_utterance(flush)
    assert s.state == "speaking" and s.ctrl.current is not None and s.ctrl.current.id == rid
    started = s.feed(ev.Started(8.0, -20.0))  # the next real utterance is judged as usual
    assert of(started, ev.Hold)


def test_results_for_an_earlier_overlap_are_ignored():
    s = Script()
    s.answered(1.0, 2.0)
    s.at(5.2)
    s.feed(ev.Started(5.0, -20.0))
    first = one(s.at(5.7), ev.TranscribeOverlap)
    s.feed(ev.Ended(5.8, audio(1.0)))
    s.feed(ev.Started(6.5, -20.0))  # a second overlap replaces the first
    assert s.feed(ev.OverlapTranscribed(first.overlap_id, "stop")) == []
    assert s.feed(ev.OverlapVoice(first.overlap_id, -20.0, None, None)) == []


def test_stop_after_an_interruption_is_not_answered():
    s = Script()
    s.answered(1.0, 2.0)
    s.at(5.2)
    s.feed(ev.Started(5.0, -20.0))
    s.at(5.6)
    asr = one(s.feed(ev.Ended(5.4, audio(0.7))), ev.TranscribeOverlap)
    voice = one(s.feed(ev.OverlapTranscribed(asr.overlap_id, "wait, stop")), ev.CheckOverlapVoice)
    actions = s.feed(ev.OverlapVoice(voice.overlap_id, -20.0, None, None))
    assert of(actions, ev.Interrupt)
    turn = one(actions, ev.EndTurn).turn
    assert turn.interrupting
    after = s.feed(ev.TurnTranscribed(turn.id, "Wait, stop.", -20.0, 0.5, 0.7))
    assert "asked the assistant to stop" in emitted(after, "ignored")[0]["reason"]
    assert not of(after, ev.Respond)


# ---------------------------------------------------------------------------------- text and manual activity


def test_a_text_turn_interrupts_the_answer_and_is_answered():
    s = Script()
    rid = s.answered(1.0, 2.0)
    actions = s.feed(ev.TextTurn("Actually, what about Spain?"))
    interrupt = one(actions, ev.Interrupt)
    assert (interrupt.reply_id, interrupt.reason) == (rid, "new text turn")
    assert one(actions, ev.Respond).text == "Actually, what about Spain?"


def test_a_blank_text_turn_does_nothing():
    s = Script()
    s.answered(1.0, 2.0)
    assert s.feed(ev.TextTurn("   ")) == []


def test_client_content_is_answered_from_memory():
    s = Script()
    respond = one(s.feed(ev.ContentTurn("Hi there")), ev.Respond)
    assert respond.already_in_memory and respond.text == "Hi there"


def test_activity_start_interrupts_only_a_speaking_answer():
    s = Script(manual_activity=True)
    assert s.feed(ev.ManualStart()) == []
    s.feed(ev.Heard(3.0))
    turn = one(s.feed(ev.ManualEnd(audio(1.0))), ev.EndTurn)
    assert turn.turn.end_s == 3.0
    respond = one(s.feed(ev.TurnTranscribed(turn.turn.id, "Hello?", -20.0, 0.8, 1.0)), ev.Respond)
    s.feed(ev.Decided(respond.reply_id, None))
    s.feed(ev.ReplyAudible(respond.reply_id))
    assert one(s.feed(ev.ManualStart()), ev.Interrupt).reason == "activityStart from the client"


def test_activity_start_never_interrupts_with_no_interruption():
    s = Script(manual_activity=True, allow_interruptions=False)
    s.feed(ev.ManualStart())
    turn = one(s.feed(ev.ManualEnd(audio(1.0))), ev.EndTurn)
    respond = one(s.feed(ev.TurnTranscribed(turn.turn.id, "Hello?", -20.0, 0.8, 1.0)), ev.Respond)
    s.feed(ev.Decided(respond.reply_id, None))
    s.feed(ev.ReplyAudible(respond.reply_id))
    assert s.feed(ev.ManualStart()) == []


# ---------------------------------------------------------------------------------- co-listening


def test_a_turn_kept_as_heard_is_not_answered():
    s = Script()
    end = one(s.utterance(1.0, 3.0), ev.EndTurn)
    assert one(s.feed(ev.TurnSkipped(end.turn.id)), ev.Drop).reply_id == end.reply_id
    assert s.state == "listening"
    assert s.feed(ev.TurnTranscribed(end.turn.id, "the radio", -20.0, 2.0, 2.5)) == []


def test_a_finished_reply_sets_the_acknowledgement_window():
    s = Script(proactive=True)
    rid = s.answered(1.0, 2.0)
    s.feed(ev.ReplyFinished(rid, heard_until_s=6.0))
    assert of(s.turn(9.0, 9.4, "Okay.", voiced_s=0.3), ev.Respond)  # 3 s later: past the window


def test_a_new_voice_after_a_pending_turn_is_split_off_and_keeps_both_transcripts():
    """#11: B speaks 1 s after A, before A's reply began: the carried turn is split (the runner found
    a new voice), A's words are sent and remembered as context, B's turn is answered on its own."""
    s = Script(proactive=True, input_transcription=True)
    first = one(s.utterance(1.0, 3.0), ev.EndTurn).turn
    s.at(4.0)
    dropped = s.feed(ev.Started(4.0, -20.0))
    assert emitted(dropped, "answer_dropped")
    second = one(s.utterance(4.0, 6.0), ev.EndTurn).turn
    assert second.earlier is first and second.carry_start_s == first.start_s and second.own_start_s == 4.0
    actions = s.feed(ev.TurnTranscribed(second.id, "Hey chef, how long do I boil an egg?", -20.0, 1.5, 2.5, None,
                                        split="a new voice", earlier_text="So the meeting got moved to Thursday"))
    assert emitted(actions, "turn_split")[0]["reason"] == "a new voice"
    sent = [a.text for a in of(actions, ev.SendTranscription)]
    assert sent == ["So the meeting got moved to Thursday", " Hey chef, how long do I boil an egg?"]
    assert one(actions, ev.Remember).text == "So the meeting got moved to Thursday"
    assert one(actions, ev.Respond).text == "Hey chef, how long do I boil an egg?"
    assert second.start_s == 4.0 and second.carry_start_s is None


def test_a_split_before_words_already_sent_sends_each_word_once():
    """#11: A speaks; B's "Hey chef," (too short to tell whose voice) was carried onto A's words and
    transcribed with them; B goes on before any reply began. The runner splits before B's first
    words: the turn starts there, A's words are context, and the client gets only the new words."""
    s = Script(proactive=True, input_transcription=True)
    a = one(s.utterance(1.0, 3.0), ev.EndTurn).turn
    s.at(4.0)
    assert emitted(s.feed(ev.Started(4.0, -20.0)), "answer_dropped")
    b1 = one(s.utterance(4.0, 4.6), ev.EndTurn).turn
    assert b1.earlier is a
    first = s.feed(ev.TurnTranscribed(b1.id, "So the meeting moved to Thursday. Hey chef.", -20.0, 2.4, 3.6))
    assert [t.text for t in of(first, ev.SendTranscription)] == ["So the meeting moved to Thursday. Hey chef."]
    s.at(5.6)
    assert emitted(s.feed(ev.Started(5.6, -20.0)), "answer_dropped")
    b2 = one(s.utterance(5.6, 7.0), ev.EndTurn).turn
    assert b2.earlier is b1
    actions = s.feed(ev.TurnTranscribed(b2.id, "Hey chef. How long do I boil an egg?", -20.0, 1.8, 3.0, None,
                                        split="a new voice", earlier_text="So the meeting moved to Thursday.",
                                        split_from=b1))
    assert emitted(actions, "turn_split")
    assert [t.text for t in of(actions, ev.SendTranscription)] == [" How long do I boil an egg?"]
    assert one(actions, ev.Remember).text == "So the meeting moved to Thursday."
    assert one(actions, ev.Respond).text == "Hey chef. How long do I boil an egg?"
    assert b2.start_s == 4.0 and b2.carry_start_s is None and b2.earlier is None
