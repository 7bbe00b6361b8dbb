"""Is this speech a participant's, or background (a TV, people talking nearby)?

Two cues, both relative to the participants (shared/docs: Full-Duplex-Bench v1.5 puts background
speech at -15 dB and side talk at -8 dB below the user): how loud the speech is, and whether its
voice print is one of theirs. A participant is never dropped for leaning back; an unknown voice
needs less of a gap than speech too short to identify.
"""

from __future__ import annotations

from chimein.perception.speakers import Match

CHATTER_MARGIN_DB = 7.0  # any speech this far below the participants is background
UNKNOWN_VOICE_MARGIN_DB = 5.0  # an unknown voice this far below them is background


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
