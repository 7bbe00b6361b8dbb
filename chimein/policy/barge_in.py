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
from typing import Literal

# Overlap still going after this long is an interruption whatever it says (a back-channel is short).
LONG_OVERLAP_S = 1.2
# Speech over the answer this short, without a stop word, is taken as a back-channel whatever the
# recogniser made of it: Whisper turns a lone "uh-huh" into words ("It hurts.") often enough.
SHORT_OVERLAP_S = 0.7
SHORT_OVERLAP_MAX_WORDS = 2
# The echo canceller removed this much of the overlap's energy: it was our own voice coming back.
ECHO_REMOVED_DB = -12.0
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


def judge_overlap(
    *,
    duration_s: float,
    still_speaking: bool,
    transcript: str | None,
    assistant_text: str = "",
    speech_s: float | None = None,
    echo_removed_db: float | None = None,
) -> OverlapVerdict:
    """Decide what to do about speech that started while the assistant was talking.

    ``transcript`` is None while no recognition has run yet; the caller then gets "wait"
    (keep the output held) unless the overlap is already long enough to decide.
    """
    if transcript is not None and echoes_assistant(transcript, assistant_text):
        return OverlapVerdict("resume", "the assistant's own voice, heard back")
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
    short = speech_s is not None and speech_s < SHORT_OVERLAP_S and len(words) <= SHORT_OVERLAP_MAX_WORDS
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
    return OverlapVerdict("interrupt", f"a new request: '{transcript.strip()}'")


def is_stop_request(text: str) -> bool:
    """Only "stop"/"wait"-type words (and fillers): the listener wants silence, not an answer."""
    words = words_of(text)
    return bool(words) and all(w in STOP_WORDS or w in BACKCHANNEL_WORDS or w in _POLITE for w in words)


_POLITE = frozenset("please that s thats it there now talking you me let just a second minute moment on".split())
