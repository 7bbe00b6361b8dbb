"""The turn controller: the one owner of turn state, without I/O (style.md: sans-I/O, one owner).

Events go in (:mod:`chimein.session.events`), actions come out; nothing here awaits, locks, polls
or reads a clock. Time is the input-audio clock carried by the events. Work the controller asks
for (transcribe, score a pause, decide, generate) answers with an event naming the request's id;
an answer for a pause, turn, reply or overlap that is no longer current is ignored.

States, derived in one place (:attr:`TurnController.state`)::

    LISTENING --Started--> USER_SPEAKING --Ended--> DECIDING --ReplyAudible--> SPEAKING
        ^                        ^   (Started before the first audio: the turn goes on)     |
        |                        +-----------------------------------------------------------+
        +--ReplyFinished / Interrupt-- SPEAKING --Started (interruptible)--> OVERLAP
                                                     OVERLAP --judged: resume--> SPEAKING
                                                     OVERLAP --judged: interrupt--> USER_SPEAKING | DECIDING

Rules come from ``policy/``: endpointing (pause grace, acknowledgements), barge-in (the overlap
judge, the own-voice veto, stop follow-ups), chatter (background speech).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chimein.perception.speakers import EnrolledVoice, Match, Participants
from chimein.policy.barge_in import OverlapVerdict, echoes_assistant, is_stop_follow_up
from chimein.policy.chatter import background_reason, reference_level_db
from chimein.policy.endpointing import (
    CALL_WAIT_S,
    is_acknowledgement,
    is_dangling_request,
    pause_grace_s,
    words_end_turn,
)
from chimein.policy.proactivity import Decision
from chimein.policy.turns import continued_words
from chimein.protocol import server_messages as out_messages
from chimein.session import events as ev
from chimein.session.options import TurnOptions
from chimein.session.overlap import Overlap, Senses
from chimein.session.state import Reply, State

OUTLASTS_ANSWER_S = 0.5
"""Proactive audio off: quiet speech over an answer that ends this long after the answer's audio
ended is a person's turn, not the answer coming back (an echo ends with the answer)."""


class TurnController:
    """Events in, actions out: turns, pauses, continuation, decisions, overlaps, interruptions."""

    def __init__(self, options: TurnOptions, senses: Senses, *, enrolled: tuple[EnrolledVoice, ...] = ()) -> None:
        self.options = options
        self.senses = senses
        self.clock_s = 0.0
        self.participants = Participants()
        for voice in enrolled:
            self.participants.enrol(voice)
        self.replies: dict[str, Reply] = {}  # live replies (with NO_INTERRUPTION, one may wait behind another)
        self.current: Reply | None = None  # the reply to the latest turn
        self.overlap: Overlap | None = None
        self.utterance_id = 0
        self.utterance_open = False
        self.pause_id = 0
        self._utterance_start_s = 0.0
        self._partial_at_s = 0.0  # when the open utterance's words were last put in the prompt ahead
        self._paused = False  # the open utterance is in a pause (its words are being transcribed already)
        self._eot_probability: float | None = None
        self._ignore: str | None = None  # why the open utterance is not a turn
        self._quiet_over: str | None = None  # the answer the open utterance spoke quietly over
        self._call_checks: dict[int, _CallCheck] = {}
        self._discarding = False  # the open utterance was closed as a back-channel; its end is no turn
        self._interrupting = False  # the open utterance interrupted an answer: a participant
        self._carry_start_s: float | None = None
        self._last_interrupt_at_s = -1e9
        self._heard_until_s = -1e9  # where the last answer's audio ended at the listener
        self._participant_levels: list[float] = []
        self._answered_voices: set[str] = set()
        self._carried_turn: ev.UserTurn | None = None  # the dropped turn the open utterance continues
        # The last spoken turn if declined: the turn, when, and its reply's id.
        self._declined: tuple[ev.UserTurn, float, str] | None = None
        self._transcribed_before = False
        self._next_turn = 0
        self._next_reply = 0
        self._next_overlap = 0
        self._next_check = 0

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> State:
        """The one place the turn state is read from the facts the controller keeps."""
        if self.overlap is not None:
            return State.OVERLAP
        if self.current is not None and self.current.speaking:
            return State.SPEAKING
        if self.utterance_open:
            return State.USER_SPEAKING
        if self.current is not None:
            return State.DECIDING
        return State.LISTENING

    def may_end_utterance(self, action: ev.EndUtterance) -> bool:
        """Whether a flush asked for earlier still applies (the runner checks it under its detector lock)."""
        if not self.utterance_open or action.utterance_id != self.utterance_id:
            return False
        return action.pause_id is None or action.pause_id == self.pause_id

    # ------------------------------------------------------------------ events in

    def handle(self, event: ev.Event) -> list[ev.Action]:
        """Apply one event; return the actions it calls for, in order."""
        out: list[ev.Action] = []
        method = getattr(self, "_on_" + type(event).__name__)
        method(event, out)
        return out

    def _on_Heard(self, event: ev.Heard, out: list[ev.Action]) -> None:
        self.clock_s = max(self.clock_s, event.clock_s)
        if self.overlap is not None:
            self._judge(self.overlap, out)
        # With proactive audio on, most speech is not for the assistant: transcribing it twice as
        # it is spoken would cost every listening session CPU for answers that mostly never come.
        every = 0.0 if self.options.proactive else self.options.partial_prefill_every_s
        # Only while voiced: words that have stopped are transcribed at the pause anyway, and a
        # transcription started now would still hold the recogniser when that one starts.
        if (every > 0 and self.utterance_open and not self._paused and event.silent_s == 0.0 and self.current is None
                and self._speculates() and self.clock_s - max(self._utterance_start_s, self._partial_at_s) >= every):
            self._partial_at_s = self.clock_s
            out.append(ev.PrefillPartial(self.utterance_id, self.clock_s, self._carry_start_s))

    def _on_Started(self, event: ev.Started, out: list[ev.Action]) -> None:
        self.utterance_id += 1
        self.utterance_open = True
        self._utterance_start_s = event.at_s
        self._partial_at_s = event.at_s
        self._paused = False
        self._eot_probability = None
        self._ignore = None
        self._quiet_over = None
        self._discarding = False
        out.append(ev.Emit("speech_started", {"at_s": event.at_s}))
        declined, self._declined = self._declined, None
        reply = self.current
        if reply is None:
            if declined is not None and event.at_s <= declined[1]:
                # This speech had begun before the line was declined (it is confirmed only now):
                # the line goes on, as it would had the decision come a moment later.
                self._continue_line(declined[0], declined[2], event.at_s, out)
            return
        if not reply.speaking:
            # Not a word said yet: the speaker had only paused. Drop the reply, keep their audio.
            self._forget(reply)
            if reply.turn is not None and reply.turn.audio is not None:
                self._carry_start_s = reply.turn.start_s
                self._carried_turn = reply.turn
            out.append(ev.Drop(reply.id))
            out.append(ev.Emit("answer_dropped", {"answer_id": reply.id, "reason": "speaker continued before the answer began"}))
            return
        if not reply.allow_interruptions:
            return
        chatter = background_reason(event.level_db, None, self._reference_level_db())
        if chatter is not None:
            self._ignore, self._quiet_over = chatter, reply.id
            out.append(ev.Emit("overlap_ignored", {"answer_id": reply.id, "reason": chatter}))
            return
        if reply.audible_at_s is not None and event.at_s < reply.audible_at_s:
            self._retract(reply, event.at_s, out)
            return
        # Hold the output at once (a real interruption is then already stopped), then judge.
        self._next_overlap += 1
        self.overlap = Overlap(id=self._next_overlap, reply_id=reply.id, start_s=event.at_s)
        out.append(ev.Hold(reply.id))
        out.append(ev.Emit("overlap_started", {"answer_id": reply.id, "at_s": event.at_s, "level_db": round(event.level_db, 1)}))
        self._judge(self.overlap, out)

    def _on_Quiet(self, event: ev.Quiet, out: list[ev.Action]) -> None:
        if self._speculates():
            out.append(ev.TranscribeEarly(self.utterance_id, event.at_s, event.audio, self._carry_start_s))

    def _speculates(self) -> bool:
        """A pause now would be scored and its words transcribed early (not over a speaking reply)."""
        return (self._ignore is None and not self._discarding and self.options.end_of_turn == "smart_turn"
                and self.overlap is None)

    def _on_Paused(self, event: ev.Paused, out: list[ev.Action]) -> None:
        self.pause_id += 1
        self._paused = True
        if self.overlap is not None:
            self.overlap.paused, self.overlap.paused_at_s = True, event.at_s
        if self._ignore is None and not self._discarding and self.options.end_of_turn == "smart_turn":
            out.append(ev.ScorePause(self.utterance_id, self.pause_id, event.at_s, event.audio,
                                     speculative=self._speculates(), carry_start_s=self._carry_start_s))
        if self.overlap is not None:
            self._judge(self.overlap, out)

    def _on_Resumed(self, event: ev.Resumed, out: list[ev.Action]) -> None:
        self.pause_id += 1
        self._paused = False
        if self.overlap is not None:
            self.overlap.paused = False

    def _on_Ended(self, event: ev.Ended, out: list[ev.Action]) -> None:
        self.utterance_open = False
        interrupting, self._interrupting = self._interrupting, False
        if self._discarding:  # a back-channel closed as judged (or ending on its own first): no turn
            self._discarding = False
            return
        out.append(ev.Emit("speech_ended", {"at_s": event.at_s}))
        if self.overlap is not None:
            overlap = self.overlap
            overlap.paused = True
            overlap.ended_audio, overlap.ended_at_s = event.audio, event.at_s
            self._judge(overlap, out)
        elif self._ignore is not None and self._quiet_over is not None and len(event.audio):
            # Too quiet to hold the answer for, but it may be a participant calling the assistant.
            self._next_check += 1
            self._call_checks[self._next_check] = _CallCheck(
                self._quiet_over, self._ignore, event.audio, self._utterance_start_s, event.at_s)
            out.append(ev.CheckCall(self._next_check, event.audio))
            self._ignore = self._quiet_over = None
        elif self._ignore is not None:
            out.append(ev.Emit("ignored", {"reason": self._ignore, "at_s": event.at_s}))
            self._ignore = None
        else:
            self._end_turn(event.audio, event.at_s, interrupting=interrupting, out=out)

    def _on_PauseScored(self, event: ev.PauseScored, out: list[ev.Action]) -> None:
        if event.utterance_id != self.utterance_id:
            return  # a score for an utterance that is over
        self._eot_probability = event.probability
        out.append(ev.Emit("end_of_turn_scored", {"at_s": event.at_s, "probability": round(event.probability, 3)}))
        if event.probability > self.options.smart_turn_threshold and event.pause_id == self.pause_id:
            out.append(ev.EndUtterance(self.utterance_id, pause_id=event.pause_id))

    def _on_PauseTranscribed(self, event: ev.PauseTranscribed, out: list[ev.Action]) -> None:
        end = ev.EndUtterance(event.utterance_id, pause_id=event.pause_id)
        if self.may_end_utterance(end) and words_end_turn(event.text):  # else the speaker went on, or it ended
            out.append(ev.Emit("end_of_turn_words", {"text": event.text}))
            out.append(end)

    def _on_ManualStart(self, event: ev.ManualStart, out: list[ev.Action]) -> None:
        reply = self.current
        if reply is not None and reply.speaking and reply.allow_interruptions:
            self._interrupt(reply, "activityStart from the client", out)

    def _on_ManualEnd(self, event: ev.ManualEnd, out: list[ev.Action]) -> None:
        self._end_turn(event.audio, self.clock_s, interrupting=False, out=out)

    def _on_TextTurn(self, event: ev.TextTurn, out: list[ev.Action]) -> None:
        if not event.text.strip():
            return
        if self.current is not None:
            self._interrupt(self.current, "new text turn", out)
        reply = self._new_reply(None)
        reply.phase = "deciding"
        out.append(ev.Respond(reply.id, event.text))

    def _on_ContentTurn(self, event: ev.ContentTurn, out: list[ev.Action]) -> None:
        if self.current is not None:
            self._interrupt(self.current, "new client content", out)
        reply = self._new_reply(None)
        reply.phase = "deciding"
        out.append(ev.Respond(reply.id, event.text, already_in_memory=True))

    # ------------------------------------------------------------------ a spoken turn

    def _end_turn(self, audio: object, ended_at_s: float, *, interrupting: bool, out: list[ev.Action],
                  start_s: float | None = None, checked_call: int | None = None) -> None:
        """``start_s``: an utterance that closed earlier (not the open one); it continues nothing.
        ``checked_call``: the CheckCall that already transcribed it."""
        if start_s is None:
            carry_start, self._carry_start_s = self._carry_start_s, None
            earlier, self._carried_turn = self._carried_turn, None
            start_s = carry_start if carry_start is not None else self._utterance_start_s
        else:
            carry_start, earlier = None, None
        self._next_turn += 1
        turn = ev.UserTurn(
            id=self._next_turn, audio=audio,  # type: ignore[arg-type]
            start_s=start_s, end_s=ended_at_s,
            carry_start_s=carry_start, interrupting=interrupting, eot_probability=self._eot_probability,
            speculative_pause_id=self.pause_id, checked_call=checked_call,
            earlier=earlier if carry_start is not None else None,
            own_start_s=self._utterance_start_s if carry_start is not None else None,
        )
        reply = self._new_reply(turn)
        out.append(ev.EndTurn(reply.id, turn))

    def _turn_reply(self, turn_id: int) -> Reply | None:
        reply = self.current
        if reply is None or reply.turn is None or reply.turn.id != turn_id or reply.phase != "transcribing":
            return None
        return reply

    def _on_TurnSkipped(self, event: ev.TurnSkipped, out: list[ev.Action]) -> None:
        reply = self._turn_reply(event.turn_id)
        if reply is not None:
            self._forget(reply)
            out.append(ev.Drop(reply.id))

    def _on_TurnTranscribed(self, event: ev.TurnTranscribed, out: list[ev.Action]) -> None:
        reply = self._turn_reply(event.turn_id)
        if reply is None:
            return  # the turn went on (or was answered otherwise) meanwhile
        turn = reply.turn
        assert turn is not None
        text = event.text.strip()
        sent_with_split = self._split_off(turn, event, reply, out) if event.split is not None else ""
        match = self.participants.match(event.embedding) if event.embedding is not None else None
        out.append(ev.Emit("transcribed", {
            "answer_id": reply.id, "text": text, "ended_at_s": turn.end_s, "level_db": round(event.level_db, 1),
            "audio_s": round(event.audio_s, 3),
            "voice": (match.voice.name if match.voice else "unknown") if match else None,
            "voice_similarity": round(match.similarity, 2) if match else None,
        }))
        reason = self._not_a_turn(turn, text, event, match, reply, out)
        if reason is not None:
            out.append(ev.Emit("ignored", {"reason": reason, "text": text} if text else {"reason": reason}))
            self._forget(reply)
            out.append(ev.Drop(reply.id))
            return
        turn.text = text
        if self.options.input_transcription:
            # Clients append inputTranscription text: a turn after the first starts with a space,
            # so "Oh yes, me too." and "My favorite..." do not run together. Words already sent for
            # the earlier speech this turn continues are not sent twice, nor sent again when the
            # speaker went on with a sound that added no words.
            if sent_with_split:  # its first words already went out with the speech before the split
                added = continued_words(sent_with_split, f"{event.earlier_text or ''} {text}")
            else:
                earlier = _transcribed_earlier(turn)
                added = continued_words(earlier.text, text) if earlier is not None else None
            new = text if added is None else added
            if new:
                out.append(ev.SendTranscription(new if not self._transcribed_before else " " + new, turn_id=turn.id,
                                                speaker=turn.speaker, start_s=turn.start_s, end_s=turn.end_s))
                self._transcribed_before = True
        grace = pause_grace_s(text, turn.eot_probability)
        if grace:
            reply.phase = "grace"
            out.append(ev.Emit("pause_grace", {"answer_id": reply.id, "seconds": grace, "end_of_turn": turn.eot_probability}))
            out.append(ev.WaitGrace(reply.id, grace))  # a speaker who goes on now drops the reply
            return
        self._respond(reply, turn, out)

    def _respond(self, reply: Reply, turn: ev.UserTurn, out: list[ev.Action]) -> None:
        """The turn joins memory (in place of the earlier speech it continues) and goes to the policy."""
        reply.phase = "deciding"
        turn.remembered = True
        earlier = _transcribed_earlier(turn)
        replaces = earlier.text if earlier is not None and earlier.remembered else None
        if replaces and earlier is not None and earlier.only_called and continued_words(replaces, turn.text) is None:
            # The call and its request decoded as one clip came out as the request alone ("What is
            # the capital of Australia?"): the call stays a line of its own, or the request would
            # lose what made it the assistant's.
            replaces = None
        out.append(ev.Respond(reply.id, turn.text, replaces=replaces))

    def _split_off(self, turn: ev.UserTurn, event: ev.TurnTranscribed, reply: Reply, out: list[ev.Action]) -> str:
        """The carried speech was a new voice or came after a clear gap: the earlier speech keeps its
        own transcript and is context; this turn is the new speech alone (#11, policy/turns.py).

        The split may lie before an utterance this one continues (B's "Hey chef," then B's
        question, both carried onto A's words): returns the transcript already sent for speech
        after the split (A's and B's first words, decoded together), so they are not sent twice."""
        link = event.split_from if event.split_from is not None else turn
        earlier, sent, step = link.earlier, "", turn.earlier
        while step is not None and step is not earlier:
            if step.text:
                sent = step.text
                break
            step = step.earlier
        turn.earlier = None
        if link.own_start_s is not None:
            turn.start_s, turn.carry_start_s = link.own_start_s, None
        out.append(ev.Emit("turn_split", {"answer_id": reply.id, "reason": event.split,
                                          "earlier_text": event.earlier_text or ""}))
        words = (event.earlier_text or "").strip()
        if earlier is None or not words:
            return sent
        if not earlier.text and not sent and self.options.input_transcription:  # its transcript was never sent
            out.append(ev.SendTranscription(words if not self._transcribed_before else " " + words))
            self._transcribed_before = True
        if not earlier.remembered:
            earlier.remembered = True
            out.append(ev.Remember(words))
        return sent

    def _not_a_turn(self, turn: ev.UserTurn, text: str, event: ev.TurnTranscribed, match: Match | None,
                    reply: Reply, out: list[ev.Action]) -> str | None:
        """Why a transcribed turn needs no answer (None: it is a participant's turn)."""
        if not text:
            return "no words recognised (noise or a blip)"
        # Proactive audio off: every completed turn is answered, like the Live API (#11). On: level is
        # a tie-breaker, never stronger than a turn that calls the assistant or asks on topic.
        chatter = None
        if not turn.interrupting and self.options.proactive:
            chatter = background_reason(event.level_db, match, self._reference_level_db())
            if chatter is not None and event.overrule is not None:
                out.append(ev.Emit("level_overruled", {"answer_id": reply.id, "level_reason": chatter, "rule": event.overrule}))
                chatter = None
        if chatter is not None:
            return chatter
        self._participant_levels.append(event.level_db)
        if event.embedding is not None:
            known = len(self.participants.voices)
            voice = self.participants.learn(event.embedding, event.level_db)
            turn.speaker = out_messages.speaker_label(voice.name, voice.enrolled)
            reply.voice = voice.name
            out.append(ev.Emit("speaker", {"answer_id": reply.id, "name": voice.name,
                                           "new": len(self.participants.voices) > known, "enrolled": voice.enrolled}))
        if self.options.proactive and is_acknowledgement(text, voiced_s=event.voiced_s, start_s=turn.start_s,
                                                         answer_heard_until_s=self._heard_until_s):
            return "a short acknowledgement of the answer just given"
        if is_stop_follow_up(text, interrupting=turn.interrupting, ended_at_s=turn.end_s,
                             last_interrupt_at_s=self._last_interrupt_at_s):
            return "the listener asked the assistant to stop; nothing to answer"
        return None

    def _on_GraceElapsed(self, event: ev.GraceElapsed, out: list[ev.Action]) -> None:
        reply = self.replies.get(event.reply_id)
        if reply is None or reply.phase != "grace":
            return
        assert reply.turn is not None
        if reply.waiting_call is not None:  # nobody went on after the call: answer it
            self._generate(reply, reply.waiting_call, out)
            return
        if is_dangling_request(reply.turn.text):
            # Only the start of a request: tell the client we wait, and join the next speech to this turn.
            self._carry_start_s = reply.turn.start_s
            self._forget(reply)
            out.append(ev.WaitForInput(reply.id))
            return
        self._respond(reply, reply.turn, out)

    def _on_Decided(self, event: ev.Decided, out: list[ev.Action]) -> None:
        reply = self.replies.get(event.reply_id)
        if reply is None or reply.phase != "deciding":
            return
        if event.decision is not None and not event.decision.answer:
            self._forget(reply)
            if reply.turn is not None and reply.turn.audio is not None:
                self._declined = (reply.turn, self.clock_s, reply.id)
            out.append(ev.Decline(reply.id, event.decision))
            return
        if event.decision is not None and event.decision.call_only and self.options.proactive and reply.turn is not None:
            # "OK computer." said alone: the question usually follows at once. Speech now drops this
            # reply and continues the line, as in a pause grace. (A typed call has nothing to wait for.)
            reply.phase, reply.waiting_call = "grace", event.decision
            reply.turn.only_called = True
            out.append(ev.Emit("call_wait", {"answer_id": reply.id, "seconds": CALL_WAIT_S}))
            out.append(ev.WaitGrace(reply.id, CALL_WAIT_S))
            return
        self._generate(reply, event.decision, out)

    def _generate(self, reply: Reply, decision: Decision | None, out: list[ev.Action]) -> None:
        reply.phase = "generating"
        if reply.voice is not None:
            self._answered_voices.add(reply.voice)
        out.append(ev.Generate(reply.id, decision))

    def _on_ReplyAudible(self, event: ev.ReplyAudible, out: list[ev.Action]) -> None:
        reply = self.replies.get(event.reply_id)
        if reply is not None:
            reply.phase = "speaking"
            reply.audible_at_s = self.clock_s

    def _on_ReplyFinished(self, event: ev.ReplyFinished, out: list[ev.Action]) -> None:
        if event.heard_until_s is not None:
            self._heard_until_s = event.heard_until_s
        reply = self.replies.get(event.reply_id)
        if reply is not None:
            self._forget(reply)

    # ------------------------------------------------------------------ overlaps

    def _judge(self, overlap: Overlap, out: list[ev.Action]) -> None:
        """Judge the overlap with what is known now; ask for its words or its voice when needed."""
        if self.overlap is not overlap:
            return
        step = overlap.next_step(self.clock_s, self.senses)
        if isinstance(step, OverlapVerdict):
            self._settle(overlap, step, out)
        elif step is not None:
            out.append(step)

    def _on_OverlapTranscribed(self, event: ev.OverlapTranscribed, out: list[ev.Action]) -> None:
        overlap = self.overlap
        if overlap is None or overlap.id != event.overlap_id:
            return
        overlap.transcript, overlap.waiting_for = event.text, None
        self._judge(overlap, out)

    def _on_CallChecked(self, event: ev.CallChecked, out: list[ev.Action]) -> None:
        """Quiet speech over an answer: background, unless it called the assistant (#11). With
        proactive audio off it is a turn too when it went on well after the answer had ended (a
        person who began over the answer's last words), which the answer's echo cannot do."""
        check = self._call_checks.pop(event.check_id, None)
        if check is None:
            return
        calls = event.calls
        if calls is None and not self.options.proactive and check.end_s >= self._heard_until_s + OUTLASTS_ANSWER_S \
                and check.reply_id not in self.replies:
            calls = "proactive_audio_off"  # went on after the answer had ended: no echo of it
        if calls is None or echoes_assistant(event.text, self.senses.spoken_text(check.reply_id)):
            # (an answer may say its own name: that coming back through a loudspeaker is no call)
            reason = check.reason if calls is None else "the assistant's own words coming back"
            out.append(ev.Emit("ignored", {"reason": reason, "text": event.text, "at_s": check.end_s}))
            return
        out.append(ev.Emit("level_overruled", {"answer_id": check.reply_id, "level_reason": check.reason,
                                               "rule": calls}))
        reply = self.replies.get(check.reply_id)
        if reply is not None:
            self._interrupt(reply, f"called by {calls.replace('_', ' ')} over the answer", out)
        self._end_turn(check.audio, check.end_s, interrupting=True, out=out, start_s=check.start_s,
                       checked_call=event.check_id)

    def _on_OverlapVoice(self, event: ev.OverlapVoice, out: list[ev.Action]) -> None:
        """Veto an interruption spoken in the assistant's own voice (echo) or by a quieter stranger."""
        overlap = self.overlap
        if overlap is None or overlap.id != event.overlap_id or overlap.verdict is None:
            return
        match = None
        if event.embedding is not None and event.own_similarity is not None:
            match = self.participants.match(event.embedding)
            out.append(ev.Emit("overlap_voice", {
                "own_similarity": round(event.own_similarity, 2), "participant_similarity": round(match.similarity, 2),
                "participant": match.voice.name if match.voice else None}))
        verdict = overlap.vet(event, match, self._reference_level_db())
        self._settle(overlap, verdict, out)

    def _settle(self, overlap: Overlap, verdict: OverlapVerdict, out: list[ev.Action]) -> None:
        self.overlap = None
        reply = self.replies.get(overlap.reply_id)
        if reply is None:
            return
        out.append(ev.Emit("overlap_judged", {"answer_id": reply.id, "transcript": overlap.transcript,
                                              **overlap.judged, **verdict.to_json()}))
        if verdict.action == "interrupt":
            self._interrupt(reply, verdict.reason, out)
            # The interrupting utterance is a participant's turn; it is answered unless, once
            # complete, it only asked for silence ("wait, stop").
            if overlap.ended_audio is not None:
                self._end_turn(overlap.ended_audio, overlap.ended_at_s, interrupting=True, out=out)
            else:
                self._interrupting = True
            return
        if overlap.ended_audio is None and self.utterance_open:
            # Close the back-channel's utterance; it is not a turn, even if it ends on its own
            # before the runner gets to flush the detector.
            self._discarding = True
            out.append(ev.EndUtterance(self.utterance_id))
        out.append(ev.Emit("ignored", {"reason": verdict.reason, "text": overlap.transcript or ""}))
        out.append(ev.Release(reply.id))

    # ------------------------------------------------------------------ replies

    def _new_reply(self, turn: ev.UserTurn | None) -> Reply:
        self._next_reply += 1
        self._declined = None  # a later turn: the declined one is no longer the last
        reply = Reply(id=f"r{self._next_reply}", turn=turn, allow_interruptions=self.options.allow_interruptions)
        self.replies[reply.id] = reply
        self.current = reply
        return reply

    def _forget(self, reply: Reply) -> None:
        self.replies.pop(reply.id, None)
        if self.current is reply:
            self.current = None
        if self.overlap is not None and self.overlap.reply_id == reply.id:
            self.overlap = None

    def _interrupt(self, reply: Reply, reason: str, out: list[ev.Action]) -> None:
        """Stop the reply now (the runner truncates memory to what was heard). Safe to call twice."""
        if reply.id not in self.replies:
            return
        self._forget(reply)
        self._last_interrupt_at_s = self.clock_s
        out.append(ev.Interrupt(reply.id, reason))

    def _retract(self, reply: Reply, onset_s: float, out: list[ev.Action]) -> None:
        """Speech that began before the answer was audible, confirmed only now (the VAD needs ~0.2 s):
        the speaker had only paused, and nobody reacted to the answer. Stop it (``interrupted`` tells
        the client to drop what it buffered) and let the line go on, as if the answer had come a
        moment later (the same rule as for a declined line, policy/turns.py)."""
        self._forget(reply)
        out.append(ev.Interrupt(reply.id, "the speaker went on before the answer was audible"))
        if reply.turn is not None and reply.turn.audio is not None:
            self._continue_line(reply.turn, reply.id, onset_s, out)

    def _continue_line(self, turn: ev.UserTurn, answer_id: str, onset_s: float, out: list[ev.Action]) -> None:
        """The next speech joins ``turn`` (a declined or retracted line): ``turn_continued``."""
        self._carry_start_s, self._carried_turn = turn.start_s, turn
        out.append(ev.Emit("turn_continued", {"answer_id": answer_id, "gap_s": round(onset_s - turn.end_s, 3),
                                              "earlier_text": turn.text}))

    def _reference_level_db(self) -> float | None:
        """The participants' speaking level (policy/chatter.py): never a recording's or the loudest first."""
        return reference_level_db(self.participants.voices, self._answered_voices, self._participant_levels)


def _transcribed_earlier(turn: ev.UserTurn) -> ev.UserTurn | None:
    """The latest speech this turn continues that got a transcript of its own (a link dropped
    before it was transcribed is skipped): its words were sent and remembered already."""
    earlier = turn.earlier
    while earlier is not None and not earlier.text:
        earlier = earlier.earlier
    return earlier


@dataclass(frozen=True)
class _CallCheck:
    """Quiet speech over an answer, closed and waiting for its words (``ev.CheckCall``)."""

    reply_id: str
    reason: str  # why its level made it background
    audio: np.ndarray
    start_s: float
    end_s: float
