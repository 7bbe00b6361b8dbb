"""What the recogniser should expect to hear: the words an instruction's decisions hang on.

Whisper tiny.en has never heard "Nova" used as a name and turns "Nova, what is ..." into "No man,
what is ..."; a wake phrase ("hey chef") becomes "hey Jeff". Given the instruction's names, wake
phrases and topics as previous text (faster-whisper ``hotwords``), it spells them as written.
A client's own ``inputAudioTranscription`` custom vocabulary / adaptation phrases are added.
"""

from __future__ import annotations

from collections.abc import Iterable

from chimein.policy.instruction import GatingRules

__all__ = ["MAX_HINT_CHARS", "recognition_hints", "second_opinion_calls", "wants_second_opinion"]

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


# ------------------------------------------------------------------ a second opinion on a name

def wants_second_opinion(rules: GatingRules, answer: bool) -> bool:
    """A declined turn, under an instruction that names the assistant or gives it a wake phrase.

    Even told the names, Whisper tiny.en hears "Juno, how long ..." as "Do you know how long ...",
    "Kit" as "Get", "hey Iris, play" as "Hey, I just play"; the call is lost and the turn declined.
    Whisper base (multilingual, already shipped for uploaded files) hears most of them: on the dev
    split's spoken name and wake-phrase turns it turned 7 of 20 such misses into calls, and changed
    one other turn, which :func:`second_opinion_calls` leaves alone. It costs about 0.25 s of a core per short turn, so it is asked only about turns
    that tiny.en's words would leave unanswered, and only while the recognisers are idle.
    """
    return not answer and bool(rules.names or rules.wake_phrases)


def second_opinion_calls(answer: bool, rule: str | None) -> bool:
    """The second transcript is taken only when it hears the assistant called (its name, role or
    wake phrase): a turn it merely hears better on some other count keeps the first decision."""
    return answer and rule in ("name", "wake_phrase")

