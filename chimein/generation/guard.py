"""Keep the small embedded model from answering what it cannot answer safely.

SmolLM2-135M answers fluently and often wrongly: asked for a dose, it invents one; asked about
today's weather, it describes some weather. A confident wrong answer about health, safety or a
live fact does harm, so for those questions the embedded model is not asked at all: the person
hears, briefly, that this model cannot answer that reliably, and where to get a better answer
(an emergency number, a doctor, or a stronger model behind ``--llm-url``).

The rules read only the latest participant message (not the system instruction, not older
turns), and match topics, not single loose words: "a dose of sunshine" or "the weather in
Paris in May" are left to the model. A stronger backend (``--llm-url``) is not guarded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .llm import ChatMessage

__all__ = ["GuardVerdict", "check_question", "guard_reply"]

Topic = Literal["emergency", "health", "safety", "live"]

STRONGER_MODEL = "a stronger model can be connected with the --llm-url option"

# Two sentences at most: the session speaks two sentences of an answer.
REPLIES: dict[Topic, str] = {
    "emergency": "That sounds urgent: please call your local emergency number now. "
    "I am a small offline model and cannot give medical help.",
    "health": "I can't give reliable health advice: I'm a small offline model. "
    f"Please ask a doctor or a pharmacist; {STRONGER_MODEL}.",
    "safety": "I can't answer safety questions reliably: I'm a small offline model. "
    f"Please check the instructions or ask an expert; {STRONGER_MODEL}.",
    "live": "I can't know that: I run offline, with no live news, weather, prices or time. "
    f"For that, {STRONGER_MODEL}.",
}


def _words(*alternatives: str) -> str:
    return r"\b(?:" + "|".join(alternatives) + r")\b"


_EMERGENCY = re.compile(
    _words(
        r"chest pains?", r"heart attack", r"can'?t breathe", r"cannot breathe", r"not breathing",
        r"stopped breathing", r"choking", r"overdos\w*", r"unconscious", r"passed out", r"stroke",
        r"bleeding (?:a lot|heavily|badly|won'?t stop)", r"suicid\w*", r"kill (?:myself|himself|herself)",
        r"end my life", r"swallowed (?:bleach|poison|pills|a battery|batteries)", r"poisoned",
        r"seizure", r"anaphyla\w*",
    ),
    re.IGNORECASE,
)

_MEDICINE = _words(
    r"medicines?", r"medications?", r"meds", r"pills?", r"tablets?", r"drugs?", r"doses?", r"dosages?",
    r"paracetamol", r"acetaminophen", r"ibuprofen", r"aspirin", r"antibiotics?", r"insulin",
    r"tylenol", r"advil", r"codeine", r"antidepressants?", r"prescriptions?", r"vaccines?",
    r"mg", r"milligrams?",
)
_BODY = _words(
    r"symptoms?", r"diagnos\w*", r"rash", r"fever", r"infection", r"lump", r"cancer", r"diabetes",
    r"blood pressure", r"pregnan\w*", r"allerg\w*", r"pain(?:ful)?", r"hurts?", r"headaches?",
    r"migraines?", r"dizzy", r"nause\w*", r"vomit\w*", r"disease", r"illness", r"sick",
    r"side effects?", r"treat(?:ment)?", r"cure", r"doctor", r"injur\w*", r"wound", r"burn(?:ed|t)? my",
)
_HEALTH_ASK = re.compile(
    _words(
        r"how (?:much|many)", r"can i take", r"should i take", r"is it safe", r"safe to", r"what should i",
        r"how do i treat", r"how to treat", r"what (?:do|does|can) (?:i|you) (?:take|do)", r"do i have",
        r"is (?:it|this) (?:serious|normal|dangerous)", r"mix", r"together with", r"with alcohol",
        r"give (?:my|a) (?:baby|child|kid|son|daughter|dog|cat)", r"cure", r"treat",
    ),
    re.IGNORECASE,
)
_MEDICINE_RE = re.compile(_MEDICINE, re.IGNORECASE)
_BODY_RE = re.compile(_BODY, re.IGNORECASE)

_SAFETY = re.compile(
    _words(
        r"mix(?:ing)? (?:bleach|ammonia|chemicals|cleaning products)", r"bleach and", r"and bleach",
        r"gas leak", r"smell (?:of )?gas", r"carbon monoxide", r"electric(?:al)? (?:wiring|shock|outlet|socket)",
        r"live wires?", r"rewire", r"fuse ?box", r"circuit breaker", r"grease fire", r"chainsaw",
        r"make (?:a )?(?:bomb|explosives?|weapon|poison)", r"explosives?", r"firearms?", r"guns?",
        r"is (?:it|this) safe to (?:eat|drink|touch|use)", r"safe to eat", r"safe to drink",
        r"(?:eat|ate) (?:raw|wild) (?:mushrooms?|chicken|pork)", r"wild mushrooms?", r"expired",
        r"poisonous", r"toxic",
    ),
    re.IGNORECASE,
)

_WHEN_NOW = _words(
    r"today'?s?", r"tonight", r"tomorrow'?s?", r"yesterday'?s?", r"right now", r"currently", r"current",
    r"at the moment", r"this (?:morning|afternoon|evening|week|weekend|month|year)", r"latest", r"now",
    r"live", r"recent(?:ly)?", r"so far",
)
_LIVE_TOPIC = _words(
    r"weather", r"forecast", r"temperature outside", r"rain(?:ing)?", r"news", r"headlines?", r"score",
    r"scores", r"results?", r"won", r"winning", r"price", r"prices", r"stocks?", r"shares?",
    r"exchange rate", r"bitcoin", r"traffic", r"open", r"election", r"president", r"prime minister",
    r"happening", r"trending", r"cost",
)
_LIVE_ALWAYS = re.compile(
    _words(
        r"what time is it", r"what'?s the time", r"what is the time", r"what day is (?:it|today)",
        r"what'?s the date", r"what is the date", r"today'?s date", r"what year is it",
        r"who won (?:the|last)", r"weather (?:like )?(?:today|tonight|tomorrow|now|outside)",
        r"is it (?:going to )?rain(?:ing)?", r"will it rain",
    ),
    re.IGNORECASE,
)
_WHEN_NOW_RE = re.compile(_WHEN_NOW, re.IGNORECASE)
_LIVE_TOPIC_RE = re.compile(_LIVE_TOPIC, re.IGNORECASE)


@dataclass(frozen=True)
class GuardVerdict:
    topic: Topic
    reply: str


def check_question(text: str) -> GuardVerdict | None:
    """The guarded topic a question falls under, or None when the model may answer it."""
    t = " ".join(text.split())
    if not t:
        return None
    if _EMERGENCY.search(t):
        return GuardVerdict("emergency", REPLIES["emergency"])
    medicine = _MEDICINE_RE.search(t) is not None
    body = _BODY_RE.search(t) is not None
    if (medicine and (body or _HEALTH_ASK.search(t))) or (body and _HEALTH_ASK.search(t)):
        return GuardVerdict("health", REPLIES["health"])
    if _SAFETY.search(t):
        return GuardVerdict("safety", REPLIES["safety"])
    if _LIVE_ALWAYS.search(t) or (_WHEN_NOW_RE.search(t) and _LIVE_TOPIC_RE.search(t)):
        return GuardVerdict("live", REPLIES["live"])
    return None


def guard_reply(messages: Sequence[ChatMessage]) -> str | None:
    """The fixed reply for the latest user message when it is guarded, else None."""
    for message in reversed(messages):
        if message.role == "user":
            # several participants in one message: the newest line is the question
            lines = [line for line in message.content.splitlines() if line.strip()]
            verdict = check_question(lines[-1] if lines else "")
            return verdict.reply if verdict else None
        if message.role == "assistant":
            return None
    return None
