"""Speech over the assistant's answer, being judged: interruption, or back-channel / echo / chatter?

The controller holds the answer the moment an overlap starts and asks :meth:`Overlap.next_step`
again whenever something changes (more audio, a pause, its words, its voice print). A step is a
request (transcribe it, check its voice) or a verdict; policy/barge_in.py makes the verdicts.
Pure: no I/O, no clock (``clock_s`` is passed in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from chimein.perception.speakers import Match
from chimein.policy.barge_in import RECENT_ECHO_S, OverlapVerdict, judge_overlap, own_voice_veto
from chimein.policy.chatter import background_reason
from chimein.session import events as ev

WORDS_AFTER_S = 0.6  # transcribe an overlap still going after this long
ECHO_ONSET_S = 0.25  # skip the echo canceller's onset transient when measuring what it removed


class Senses(Protocol):
    """What perception and the playout can tell the controller, read synchronously."""

    @property
    def echo_path(self) -> bool: ...
    @property
    def loudspeaker(self) -> bool: ...
    def echo_removed_db(self, start_s: float, end_s: float) -> float | None: ...
    def follows_reference(self, start_s: float, end_s: float) -> float | None: ...
    def spoken_text(self, reply_id: str) -> str: ...
    def recent_text(self, reply_id: str, seconds: float) -> str: ...


@dataclass
class Overlap:
    id: int
    reply_id: str
    start_s: float
    paused: bool = False
    paused_at_s: float = 0.0
    ended_audio: np.ndarray | None = None
    ended_at_s: float = 0.0
    transcript: str | None = None
    transcribed_while_speaking: bool = False
    waiting_for: str | None = None  # "words" | "voice": a request is out; nothing to judge until it answers
    verdict: OverlapVerdict | None = None
    judged: dict[str, Any] = field(default_factory=dict)

    def next_step(self, clock_s: float, senses: Senses) -> ev.TranscribeOverlap | ev.CheckOverlapVoice | OverlapVerdict | None:
        """What to do now: a request, a final verdict (resume), or None (wait for more)."""
        if self.waiting_for is not None:
            return None
        duration = clock_s - self.start_s
        still = not self.paused
        needs_words = self.transcript is None or (self.transcribed_while_speaking and not still)
        if needs_words and (not still or duration >= WORDS_AFTER_S):
            self.waiting_for, self.transcribed_while_speaking = "words", still
            return ev.TranscribeOverlap(self.id, self.ended_audio)
        speech_end = self.ended_at_s if self.ended_audio is not None else self.paused_at_s
        speech_s = (speech_end if not still and speech_end else clock_s) - self.start_s
        removed = None
        if senses.echo_path and duration >= 0.5:
            removed = senses.echo_removed_db(self.start_s + ECHO_ONSET_S, self.start_s + duration)
        loudspeaker = senses.echo_path and senses.loudspeaker
        follows = None  # with headphones nothing comes back to follow what was played
        if loudspeaker:
            follows = senses.follows_reference(self.start_s, self.start_s + max(0.5, min(duration, speech_s + 0.1)))
        verdict = judge_overlap(
            duration_s=duration, still_speaking=still, transcript=self.transcript,
            assistant_text=senses.spoken_text(self.reply_id), speech_s=speech_s, echo_removed_db=removed,
            recent_assistant_text=senses.recent_text(self.reply_id, RECENT_ECHO_S),
            follows_reference=follows, loudspeaker=loudspeaker,
        )
        if verdict.action == "wait":
            return None
        self.judged = {"follows_reference": None if follows is None else round(follows, 2), "loudspeaker": loudspeaker}
        if verdict.action == "interrupt":
            self.waiting_for, self.verdict = "voice", verdict
            return ev.CheckOverlapVoice(self.id, self.ended_audio)
        return verdict

    def vet(self, voice: ev.OverlapVoice, match: Match | None, reference_db: float | None) -> OverlapVerdict:
        """The interruption verdict, vetoed when the voice is the assistant's own or background speech."""
        assert self.verdict is not None
        if match is None or voice.own_similarity is None:
            return self.verdict
        veto = own_voice_veto(voice.own_similarity, match.similarity, self.transcript)
        if veto is not None:
            return veto
        chatter = background_reason(voice.level_db, match, reference_db)
        return OverlapVerdict("resume", chatter) if chatter is not None else self.verdict
