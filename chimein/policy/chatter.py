"""Is this speech a participant's, or background (a TV, people talking nearby)?

Two cues, both relative to the participants (shared/docs: Full-Duplex-Bench v1.5 puts background
speech at -15 dB and side talk at -8 dB below the user): how loud the speech is, and whether its
voice print is one of theirs. A participant is never dropped for leaning back; an unknown voice
needs less of a gap than speech too short to identify.

Loudness is only a tie-breaker (issue #11). Three rules keep it one:

- with proactive audio off every completed turn is answered, as by the Live API: the session
  does not ask this module at all (only the assistant's own echo may be dropped, elsewhere);
- a turn that addresses the assistant (its name or role, the wake phrase, an on-topic request:
  :data:`ADDRESSING_RULES`) is never dropped for its level (:func:`overrules_level`);
- speech over an answer that is too quiet to hold the answer for is still heard to its end: if it
  calls the assistant by name, role or wake phrase (:func:`calls_assistant`), it interrupts;
- the reference is the participants' level, not the loudest voice heard first: the median of
  the voices that took an answered turn or were enrolled, else the median of the voices heard
  (:func:`reference_level_db`); a recording kept as co-listened never becomes a voice.

What level cannot tell apart: a TV or side talk as loud as the people at the table, or a
quieter person at the far end of it who asks a general question in the default mode before
anyone has been answered; the words then decide (a TV's questions are rarely to the room).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from chimein.perception.speakers import Match, Voice
from chimein.policy.cues import analyse
from chimein.policy.instruction import GatingRules

__all__ = [
    "ADDRESSING_RULES",
    "CHATTER_MARGIN_DB",
    "UNKNOWN_VOICE_MARGIN_DB",
    "background_reason",
    "calls_assistant",
    "overrules_level",
    "reference_level_db",
]

CHATTER_MARGIN_DB = 7.0  # any speech this far below the participants is background
UNKNOWN_VOICE_MARGIN_DB = 5.0  # an unknown voice this far below them is background

#: Decision rules that address the assistant: a turn that fires one is never background for its level.
ADDRESSING_RULES = frozenset({"wake_phrase", "name", "topic"})


def background_reason(level_db: float, match: Match | None, reference_db: float | None) -> str | None:
    """Why this speech is not a participant's, or None when it may be one.

    ``match`` is None when the speech was too short for a voice print (level alone decides);
    ``reference_db`` is the participants' speaking level, None while nobody is known.
    """
    if reference_db is None:
        return None
    if match is not None and match.voice is not None:
        usual = match.voice.level_db
        # A voice heard before anyone louder spoke (a TV at the start of a session) is known but is
        # no participant: it is background when it is usually, and now, far below them.
        if usual is not None and usual < reference_db - CHATTER_MARGIN_DB and level_db < reference_db - CHATTER_MARGIN_DB:
            return f"background speech: a voice that is always {reference_db - usual:.0f} dB below the participants"
        return None
    if match is not None and level_db < reference_db - UNKNOWN_VOICE_MARGIN_DB:
        return f"background speech: an unknown voice {reference_db - level_db:.0f} dB below the participants"
    if level_db < reference_db - CHATTER_MARGIN_DB:
        return f"background speech at {level_db:.0f} dBFS, {reference_db - level_db:.0f} dB below the participants"
    return None


def reference_level_db(
    voices: Sequence[Voice], answered: Iterable[str] = (), recent_levels: Sequence[float] = ()
) -> float | None:
    """The participants' speaking level, robust to one loud recording or TV.

    ``answered``: names of voices that took a turn the assistant answered. Those voices and the
    enrolled ones are participants for sure; their median level is the reference. Before any
    is known, the median over every voice heard (a loud recording is then one voice among
    several, not the maximum); before any voice print, the median of ``recent_levels``.
    """
    answered = set(answered)
    sure = [v.level_db for v in voices if v.level_db is not None and (v.enrolled or v.name in answered)]
    if sure:
        return float(np.median(sure))
    heard = [v.level_db for v in voices if v.level_db is not None]
    if heard:
        return float(np.median(heard))
    return float(np.median(recent_levels[-8:])) if recent_levels else None


def overrules_level(rule: str | None, answer: bool) -> bool:
    """True when a decision that addresses the assistant must not be dropped as background."""
    return bool(answer) and rule in ADDRESSING_RULES


def calls_assistant(text: str, rules: GatingRules) -> str | None:
    """How ``text`` calls the assistant (``wake_phrase``, ``name``, ``role``), or None.

    For quiet speech over an answer: a TV or side talk there is ignored, but "Hey Pip, ..." from
    the far end of the table is a participant calling, whatever its level. A topic alone is not
    enough here: a TV on the instruction's topic must not cut the answer off.
    """
    c = analyse(text, rules.names, rules.wake_phrases, rules.roles)
    if c.wake:
        return "wake_phrase"
    if c.assistant_vocative:
        return "name"
    if c.role_vocative and rules.roles_address:
        return "role"
    return None
