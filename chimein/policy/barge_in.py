"""Is speech over the assistant's answer a real interruption, or a back-channel?

No offline model exists for this (shared/docs/components.md): on real clips, back-channels
lasted <= 0.64 s and interruptions >= 1.89 s. So the verdict combines the overlap's duration,
its words (a filler/back-channel lexicon on the transcript) and its level relative to the
participants. The session holds the answer's output the moment overlap starts (so a real
interruption is stopped at once) and asks this policy whether to resume or to yield.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

# Overlap still going after this long is an interruption whatever it says (a back-channel is short).
LONG_OVERLAP_S = 1.2
# Speech over the answer this short, without a stop word, is taken as a back-channel whatever the
# recogniser made of it: Whisper turns a lone "uh-huh" into words ("It hurts.") often enough.
SHORT_OVERLAP_S = 0.7
SHORT_OVERLAP_MAX_WORDS = 2
# The echo canceller removed this much of the overlap's energy: it was our own voice coming back.
ECHO_REMOVED_DB = -12.0
# A transcript with at least this many letters, this share of them in runs matching what the
# assistant said in the last RECENT_ECHO_S seconds, is our voice misheard.
ECHO_MIN_LETTERS = 8
ECHO_LETTER_SHARE = 0.6
RECENT_ECHO_S = 3.0
# The raw microphone's loudness follows what was played this closely: our voice coming back
# (checked before the canceller has converged, where its removal ratio says nothing yet).
ECHO_FOLLOWS = 0.8
# Words people say to show they are listening, or to hold the floor without taking it.
BACKCHANNEL_WORDS = frozenset(
    """
    uh huh uh-huh mm mmm mhm mm-hmm hmm hm um umm uh er erm ah oh ooh yeah yep yes yup ok okay
    right sure alright all wow cool nice great good true really totally exactly gotcha i see got it
    interesting indeed
    """.split()
)
# Words that turn a short overlap into an interruption even if it is short.
STOP_WORDS = frozenset("stop wait hold hang sorry excuse pause quiet enough no actually but".split())

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


@dataclass(frozen=True)
class OverlapVerdict:
    action: Literal["interrupt", "resume", "wait"]
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"action": self.action, "reason": self.reason}


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("mm-hmm", "mm hmm"))


def is_backchannel(text: str) -> bool:
    """Only filler and back-channel words (or nothing recognisable) — e.g. "uh-huh", "yeah, right"."""
    words = words_of(text)
    return all(w in BACKCHANNEL_WORDS for w in words)


def echoes_assistant(transcript: str, assistant_text: str) -> bool:
    """Most of the overlap's words are words the assistant is saying: its own voice leaking back."""
    words = [w for w in words_of(transcript) if w not in BACKCHANNEL_WORDS]
    said = set(words_of(assistant_text))
    return len(words) >= 2 and sum(w in said for w in words) / len(words) >= 0.7


def sounds_like_assistant(transcript: str, recent_assistant_text: str) -> bool:
    """The overlap's letters are mostly runs of what the assistant just said: a misheard echo.

    Whisper garbles our own voice coming back ("The planets" -> "Plan it to the", "You can make
    a" -> "Can make it to"), so whole words rarely match. Runs of 3+ letters in order, against only
    the words played in the last seconds, do; a question that reuses the answer's words from
    earlier in it does not reach the threshold, and anything with a stop word is never an echo.
    """
    words = words_of(transcript)
    if any(w in STOP_WORDS for w in words):
        return False
    heard = "".join(w for w in words if w not in BACKCHANNEL_WORDS)
    said = "".join(words_of(recent_assistant_text))
    if len(heard) < ECHO_MIN_LETTERS or not said:
        return False
    blocks = SequenceMatcher(None, heard, said, autojunk=False).get_matching_blocks()
    matched = sum(b.size for b in blocks if b.size >= 3)
    return matched / len(heard) >= ECHO_LETTER_SHARE


def judge_overlap(
    *,
    duration_s: float,
    still_speaking: bool,
    transcript: str | None,
    assistant_text: str = "",
    speech_s: float | None = None,
    echo_removed_db: float | None = None,
    recent_assistant_text: str = "",
    follows_reference: float | None = None,
    loudspeaker: bool = False,
) -> OverlapVerdict:
    """Decide what to do about speech that started while the assistant was talking.

    ``transcript`` is None while no recognition has run yet; the caller then gets "wait"
    (keep the output held) unless the overlap is already long enough to decide.
    """
    if transcript is not None and echoes_assistant(transcript, assistant_text):
        return OverlapVerdict("resume", "the assistant's own voice, heard back")
    if transcript is not None and sounds_like_assistant(transcript, recent_assistant_text):
        return OverlapVerdict("resume", f"the assistant's own voice, misheard ('{transcript.strip()}')")
    if follows_reference is not None and follows_reference >= ECHO_FOLLOWS and not _asks_to_stop(transcript):
        return OverlapVerdict("resume", f"the assistant's own voice (the microphone follows what was played, r={follows_reference:.2f})")
    if echo_removed_db is not None and echo_removed_db < ECHO_REMOVED_DB:
        return OverlapVerdict("resume", f"the assistant's own voice (the echo canceller removed {-echo_removed_db:.0f} dB)")
    # Long means long *speech*: once the overlap has stopped, its own length counts, not the time the
    # recogniser took to read it (on a loaded machine that alone can pass LONG_OVERLAP_S).
    spoken = duration_s if still_speaking or speech_s is None else speech_s
    if spoken >= LONG_OVERLAP_S and (transcript is None or not is_backchannel(transcript) or still_speaking):
        return OverlapVerdict("interrupt", f"speech over the answer for {spoken:.1f}s")
    if transcript is None:
        return OverlapVerdict("wait", "overlap too short to judge without its words")
    words = words_of(transcript)
    if any(w in STOP_WORDS for w in words):
        return OverlapVerdict("interrupt", f"'{transcript.strip()}' asks the assistant to stop")
    short_words = len(words) <= SHORT_OVERLAP_MAX_WORDS
    short = speech_s is not None and speech_s < SHORT_OVERLAP_S and short_words
    if short and not still_speaking:
        return OverlapVerdict("resume", f"a short sound over the answer ({speech_s:.2f}s, '{transcript.strip()}')")
    if not words:
        if still_speaking:
            return OverlapVerdict("wait", "no words yet")
        return OverlapVerdict("resume", "no words recognised (a cough or noise)")
    if is_backchannel(transcript):
        if still_speaking:
            return OverlapVerdict("wait", "back-channel words so far; waiting for the rest")
        return OverlapVerdict("resume", f"back-channel '{transcript.strip()}'")
    if loudspeaker:
        # Our voice comes back through the room and the canceller leaves fragments that Whisper turns
        # into a few words: over a loudspeaker, a short phrase with no stop word is not enough.
        if still_speaking:
            return OverlapVerdict("wait", "a few words over the loudspeaker; waiting for more")
        return OverlapVerdict("resume", f"a short phrase over the loudspeaker with no stop word ('{transcript.strip()}'), "
                                        "likely the assistant's own voice")
    if still_speaking and short_words:
        # The answer is already held: hear the end of a few words before calling them a request
        # ("uh-huh" heard as "It hurts." while it was still being said).
        return OverlapVerdict("wait", f"a few words so far ('{transcript.strip()}'); waiting for the rest")
    return OverlapVerdict("interrupt", f"a new request: '{transcript.strip()}'")


def _asks_to_stop(transcript: str | None) -> bool:
    return transcript is not None and any(w in STOP_WORDS for w in words_of(transcript))


def is_stop_request(text: str) -> bool:
    """Only "stop"/"wait"-type words (and fillers): the listener wants silence, not an answer."""
    words = words_of(text)
    return bool(words) and all(w in STOP_WORDS or w in BACKCHANNEL_WORDS or w in _POLITE for w in words)


_POLITE = frozenset("please that s thats it there now talking you me let just a second minute moment on".split())


# "Wait... stop." may reach us as two turns; a stop-only turn this soon after an interruption is
# the same request for silence, not a question.
STOP_FOLLOW_UP_S = 3.0
# Speech over the answer whose voice print is the assistant's own (by this much more than any
# participant's) is the loudspeaker coming back, whatever the echo canceller left of it.
OWN_VOICE_SIMILARITY = 0.5
OWN_VOICE_LEAD = 0.1


def is_stop_follow_up(text: str, *, interrupting: bool, ended_at_s: float, last_interrupt_at_s: float) -> bool:
    """Only "stop"/"wait" words from someone who interrupted (or just after an interruption): nothing to answer."""
    just_interrupted = ended_at_s - last_interrupt_at_s < STOP_FOLLOW_UP_S
    return (interrupting or just_interrupted) and is_stop_request(text)


def own_voice_veto(own_similarity: float, participant_similarity: float, transcript: str | None = None) -> OverlapVerdict | None:
    """A "resume" verdict when the overlap's voice print is the assistant's own, else None.

    Words that ask it to stop are never vetoed by the voice print alone (as they are not by the
    microphone following the reference): a person whose voice resembles the assistant's, heard for
    the first time in "Wait, stop.", is not yet a participant to outscore it. An echo of the answer's
    own words was already recognised by its words."""
    if _asks_to_stop(transcript):
        return None
    if own_similarity >= OWN_VOICE_SIMILARITY and own_similarity >= participant_similarity + OWN_VOICE_LEAD:
        return OverlapVerdict("resume", f"the assistant's own voice (voice print {own_similarity:.2f})")
    return None
