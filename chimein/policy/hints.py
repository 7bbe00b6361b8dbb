"""What the recogniser should expect to hear: the words an instruction's decisions hang on.

Whisper tiny.en has never heard "Nova" used as a name and turns "Nova, what is ..." into "No man,
what is ..."; a wake phrase ("hey chef") becomes "hey Jeff". Given the instruction's names, wake
phrases and topics as previous text (faster-whisper ``hotwords``), it spells them as written.
A client's own ``inputAudioTranscription`` custom vocabulary / adaptation phrases are added.
"""

from __future__ import annotations

from collections.abc import Iterable

from chimein.policy.instruction import GatingRules

__all__ = ["MAX_HINT_CHARS", "recognition_hints"]

MAX_HINT_CHARS = 240
"""About 60 Whisper tokens: enough for names, phrases and a few topics, short of the 224-token prompt limit."""


def recognition_hints(rules: GatingRules, vocabulary: Iterable[str] = ()) -> str | None:
    """A comma-separated hint line for the recogniser, or None when there is nothing to expect.

    Names first (what is most often misheard), then wake phrases written as said ("Hey chef"),
    then the client's vocabulary, then topics; cut at :data:`MAX_HINT_CHARS` on a whole phrase.
    """
    phrases: list[str] = []
    phrases += [n for n in rules.names]
    phrases += [w[:1].upper() + w[1:] for w in rules.wake_phrases]
    phrases += [v.strip() for v in vocabulary if v and v.strip()]
    phrases += [t for t in rules.topics]
    seen: set[str] = set()
    kept: list[str] = []
    length = 0
    for phrase in phrases:
        phrase = " ".join(phrase.split())
        key = phrase.lower()
        if not phrase or key in seen:
            continue
        if length + len(phrase) + 2 > MAX_HINT_CHARS:
            break
        seen.add(key)
        kept.append(phrase)
        length += len(phrase) + 2
    return ", ".join(kept) + "." if kept else None
