"""End-of-turn rules: when a paused speaker is done, and when a short sound is no turn at all.

Pure functions over a turn's words, its Smart Turn score and times on the input-audio clock
(style.md: time passed in, never read). The session's turn controller applies them; only it
changes turn state.
"""

from __future__ import annotations

import re

from chimein.policy.barge_in import is_backchannel, words_of

SMART_TURN_THRESHOLD = 0.5  # Smart Turn's output is a probability; > 0.5 means complete (model card)
# After a turn that ended on the silence fallback with an unfinished sound (Smart Turn low, or a
# trailing "and"/"maybe"), wait this much longer before speaking: the speaker is likely mid-thought.
PAUSE_GRACE_S = 1.0  # the sound was unfinished (Smart Turn low)
PAUSE_GRACE_TEXT_S = 1.5  # the words were unfinished ("...we could maybe")
UNFINISHED_SCORE = 0.2
CONTINUATION_WORDS = frozenset(
    "and or but so because maybe um uh the a an to of with like if then that is was are were for about at in on "
    "into from by my your our their this these those some".split()
)
# A request with nothing asked yet: "Can you tell me..." (a thinking pause before the question).
DANGLING_REQUEST = re.compile(
    r"^(?:\w+,?\s+)?(?:can|could|would|will) you (?:tell|show|give|help|remind) me$|^(?:do you know|i was wondering|"
    r"i wonder|what about|how about|tell me|let me ask you|quick question)$"
)
# After a turn that only called the assistant ("OK computer."), wait this long for the request that
# usually follows before answering the call. Answered at once, a question begun 0.8 s after the
# call was said over that answer and lost: cut into a barge-in ("Capital of Australia", declined
# for want of the wake phrase) or ignored as overlap; begun sooner, the answer's first words went
# out and were cut (the bench's wake-ok-computer scene).
CALL_WAIT_S = 0.6
# A sound this short (voiced seconds, words), no question, starting this soon after an answer's
# audio ended at the listener, is an acknowledgement of it rather than a turn (proactive audio only).
ACK_MAX_SPEECH_S = 0.7
ACK_MAX_WORDS = 4
ACK_WINDOW_S = 2.5



def is_dangling_request(text: str) -> bool:
    """Only the start of a request ("Can you tell me..."): wait for the rest (NEED_MORE_INPUT)."""
    return DANGLING_REQUEST.match(text.strip(" .,!?;:…").lower()) is not None


def words_end_turn(text: str) -> bool:
    """A pause after a whole question ends the turn, even when Smart Turn heard it as unfinished.

    Smart Turn judges the sound alone, and some voices' intonation reads to it as mid-thought;
    then the turn waited for the silence fallback (800 ms). Whisper's question mark after at least
    three words, on a question that does not trail off ("Can you tell me...?", "...of the?"), is a
    second opinion from the words, available as soon as the pause's early transcription is.
    """
    stripped = text.strip()
    if not stripped.endswith("?") or len(words_of(stripped)) < 3:
        return False
    bare = stripped.strip(" .,!?;:…").lower()
    return DANGLING_REQUEST.match(bare) is None and bare.rsplit(" ", 1)[-1] not in CONTINUATION_WORDS


def is_complete(probability: float) -> bool:
    """Smart Turn calls the pause the end of the turn."""
    return probability > SMART_TURN_THRESHOLD


def pause_grace_s(text: str, eot_probability: float | None) -> float:
    """Extra wait before answering a turn that sounds unfinished (the silence fallback ended it)."""
    bare = text.strip(" .,!?;:…").lower()
    last_word = bare.rsplit(" ", 1)[-1]
    unfinished_text = (
        text.rstrip().endswith(("...", "…", ","))
        or (last_word in CONTINUATION_WORDS and not text.rstrip().endswith("?"))
        or DANGLING_REQUEST.match(bare) is not None
    )
    unfinished_sound = eot_probability is not None and eot_probability < UNFINISHED_SCORE
    if unfinished_text:
        return PAUSE_GRACE_TEXT_S
    if unfinished_sound and not text.rstrip().endswith(("?", "!")):
        return PAUSE_GRACE_S
    return 0.0


def is_acknowledgement(text: str, *, voiced_s: float, start_s: float, answer_heard_until_s: float) -> bool:
    """A brief sound right after an answer ended ("mm-hmm", "okay"): the listener acknowledging it.

    Whisper turns a lone "mm-hmm" into words ("And I'm up.") often enough that the words alone
    cannot be trusted; a short sound with no question in it, just after the answer, is not a turn.
    ``start_s`` is where the turn began and ``answer_heard_until_s`` where the last answer's audio
    ended at the listener, both on the input-audio clock.
    """
    if text.rstrip().endswith("?") or len(words_of(text)) > ACK_MAX_WORDS:
        return False
    if start_s - answer_heard_until_s > ACK_WINDOW_S:
        return False
    return is_backchannel(text) or voiced_s < ACK_MAX_SPEECH_S

