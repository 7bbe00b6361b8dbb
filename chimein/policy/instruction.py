"""Reading the gating rules out of a free-text system instruction.

Why rules and not a model: the bundled LLMs are at chance on this kind of judgement, and the
instructions users write for Proactive Audio use a small family of phrasings ("only chime in
when the topic is X", "only respond when someone says 'hey chef'", "your name is Nova; only
answer when addressed by name", "only when asked directly"). Each family is one regular
expression below; anything else is the default proactive behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["GENERIC_ROLES", "GatingRules", "parse_instruction"]


#: Said to any voice assistant without a name: "Assistant, ...", "Computer, ...".
GENERIC_ROLES = ("assistant", "computer")


@dataclass(frozen=True)
class GatingRules:
    """When the assistant may speak. Several gates combine with OR; no gate = default proactive.

    ``topics``: speak on requests about any of these. ``names``: the assistant's names (always
    a sign of being addressed). ``wake_phrases``: speak when one is used to call it.
    ``only_when_addressed``: speak on direct requests to it. ``name_required``: the instruction
    says to answer only when called by name.
    """

    topics: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    wake_phrases: tuple[str, ...] = ()
    only_when_addressed: bool = False
    source: str = ""
    name_required: bool = False
    roles: tuple[str, ...] = GENERIC_ROLES
    """Words that call an assistant without a name ("Assistant, ...", "Computer, ...", "Coach, ...")."""
    meeting: bool = False
    """The assistant sits in a meeting: questions people ask each other there are not for it."""

    @property
    def roles_address(self) -> bool:
        """Whether a role word calls the assistant: not when the instruction asks for its name or a wake phrase."""
        return not (self.name_required or (self.wake_phrases and not (self.topics or self.only_when_addressed)))

    @property
    def is_default(self) -> bool:
        """No gating phrase: answer requests directed at the assistant, ignore chatter."""
        return not (self.topics or self.wake_phrases or self.only_when_addressed or self.name_required)

    def describe(self) -> str:
        """One line for logs."""
        line = (
            f"topics={list(self.topics)} names={list(self.names)} wake={list(self.wake_phrases)} "
            f"addressed={self.only_when_addressed}"
        )
        if self.roles != GENERIC_ROLES:
            line += f" roles={list(self.roles)}"
        line += " meeting=True" if self.meeting else ""
        return line + (" by_name=True" if self.name_required else "")


# The role an instruction gives ("You are a fitness coach", "the office assistant"): its head noun.
_ROLE = re.compile(
    r"\byou(?: are|'re)\s+(?:a|an|the|our|my|their)\s+(?:[\w'-]+\s+){0,3}?"
    r"(assistant|helper|coach|tutor|chef|sommelier|guide|butler|concierge|bot|robot|agent|companion|teacher|"
    r"advisor|adviser|host|librarian|mechanic|planner|moderator|secretary|receptionist|navigator|trainer)\b",
    re.IGNORECASE,
)
# "You are the assistant built into the kitchen fridge": "Fridge, ..." calls it.
_DEVICE_ROLE = re.compile(
    r"\byou(?: are|'re)\s+(?:a|an|the)\s+(?:[\w-]+\s+){0,2}?assistant\s+(?:built into|built in to|inside|in|on|of)\s+"
    r"(?:the|this|your|our)\s+(?:[\w-]+\s+){0,2}?([a-z][\w]+)(?=\s*(?:[.,;:!?]|$|\s+(?:and|that|which|who|where)\b))",
    re.IGNORECASE,
)
_OWNER_ROLE = re.compile(r"\byou(?: are|'re)\s+(?:the|our|my|their)\s+(?:[\w-]+\s+){0,2}?([a-z][\w-]+)'s\s+assistant\b", re.IGNORECASE)
_MEETING = re.compile(
    r"\b(?:meetings?|stand-?ups?|conference (?:room|call)|team call|video call|board ?room|brainstorm(?:ing)?|"
    r"retrospective|retro|sprint planning|minutes of|syncs?|all-hands|huddle|check-in|planning session|1:1|one-on-ones?)\b",
    re.IGNORECASE,
)


# Quotes people type around phrases: '...', "...", ‘...’, “...”.
_QUOTED = r"""(?:"([^"\n]{1,60})"|“([^”\n]{1,60})”|‘([^’\n]{1,60})’|(?<![\w])'([^'\n]{1,60}?)'(?![\w]))"""
_SAY = r"(?:says?|saying|said|utters?|speaks? the words?|uses? the (?:wake |trigger )?(?:word|phrase))"

_WAKE_QUOTED = re.compile(
    rf"(?:{_SAY}|wake[- ]?(?:word|phrase)|trigger (?:word|phrase)|hot[- ]?word|start(?:s|ing)? with|"
    rf"begins? with|hears?|called by|calls? you|(?:listen|wait|watch)(?:s|ing)? (?:out )?for)"
    rf"\s*(?:is\s*|of\s*|:\s*)?(?:the (?:wake |trigger )?(?:words?|phrase)\s*)?{_QUOTED}",
    re.IGNORECASE,
)
# Unquoted "when someone says hey chef" / "ok computer" / "Wake phrase: hey Cobalt": an interjection plus one or two words.
_WAKE_BARE = re.compile(
    rf"(?:{_SAY}|(?:wake|trigger)[- ]?(?:word|phrase)\s*(?:is|:)|hot[- ]?word\s*(?:is|:))\s+((?:hey|hi|hello|ok|okay|yo)\s+[a-z][\w-]*(?:\s+[a-z][\w-]*)?)(?=\s*(?:[.,;:!?]|$|\s+(?:or|and|to|before|first)\b))",
    re.IGNORECASE,
)

_NAME = r"([A-Z][\w-]{1,30})"
_NOT_NAMES = {
    "a", "an", "the", "ai", "only", "not", "here", "there", "now", "always", "never", "just",
    "very", "my", "our", "your", "their", "his", "her", "its", "one", "helpful", "friendly",
    "in", "at", "on", "to", "for", "by", "with", "going", "called", "named", "responsible",
    "i", "you", "we", "they", "he", "she", "it", "this", "that", "expert", "assistant",
}
_NAME_PATTERNS = [
    re.compile(rf"\b(?i:your name is|you are named|you're named)\s+{_NAME}"),
    re.compile(rf"\b(?i:you(?: are|'re)\s+(?:called|named|known as))\s+{_NAME}"),
    re.compile(rf"\b(?i:(?:call|calls|called|address|addresses|addressed) you(?: by the name)?(?: as)?)\s+{_NAME}"),
    re.compile(rf"\b(?i:(?:answer|answers|respond|responds) to (?:the name\s+)?){_NAME}\b(?!\s+\w)"),
    re.compile(rf"\b(?i:go(?:es)? by)\s+{_NAME}"),
    re.compile(rf"\b(?i:call yourself|name yourself|introduce yourself as|refer to yourself as)\s+{_NAME}"),
    re.compile(rf"\b(?i:(?:assistant|helper|bot|agent|butler|robot|companion|speaker) (?:called|named))\s+{_NAME}"),
    # "You are Sage, a gardening expert." / "You are Jarvis." / "You're Nova and ..."
    re.compile(rf"\b(?i:you(?: are|'re))\s+{_NAME}(?=\s*(?:[,.;:!]|$|\s+(?:and|the|a|an)\b))"),
    re.compile(rf"\b(?i:I am|I'm|this is)\s+{_NAME}(?=\s*[,.;:!])"),
]
_NAME_GATING = re.compile(
    r"\b(?:by (?:your |its )?name|(?:says?|said|saying|uses?|mentions?|calls? out|hear) (?:your|its) name|"
    r"(?:calls?|called|addresses|addressed) you(?: by the name| as)?\s+[A-Z]|(?:speaks?|talks?) to you as\s+[A-Z]|"
    r"your name is (?:said|called|mentioned|used)|"
    r"when (?:someone |anyone |people |a person )?says\s+[A-Z][\w-]+\b)",
)

_ADDRESSED = re.compile(
    r"\b(?:(?:directly|explicitly|personally) (?:addressed|asked|spoken to|talked to|prompted|called on|requested)|"
    r"(?:asked|addressed|spoken to|talked to|prompted|called on|questioned|requested) (?:\w+ ){0,3}?(?:directly|explicitly|personally|by (?:a|the) (?:user|person|people|someone))|"
    r"(?:you are|you're|you get|you've been|being|when|if|unless|until) (?:\w+ )?(?:addressed|asked|spoken to|talked to|prompted|called (?:on|upon)|questioned)(?! about)|"
    r"(?:someone|somebody|anyone|anybody|people|a person|the users?|they|one of them|a participant|the people) "
    r"(?:\w+ )?(?:addresses|address|addressing|talks? to|talking to|speaks? to|speaking to|asks?|asking|turns? to|"
    r"requests? something (?:of|from)|needs?|wants?) you(?! by)|"
    r"(?:questions?|requests?) (?:are |is )?(?:directed|addressed|aimed|put) (?:at|to) you|"
    r"(?:talk|speak)s? to you|directed at you|asks? for (?:your |you )?help|your (?:help|input|opinion|answer) is (?:requested|asked for|needed)|"
    r"(?:when|if|unless) (?:asked|addressed|prompted|spoken to|called upon|needed)(?! about| on| to| for)|"
    r"a (?:direct |explicit )?question is (?:asked|directed) (?:of|to) you|asked a question(?! about))",
    re.IGNORECASE,
)

# Where a topic phrase starts: "... when the topic is (about) X", "only talk about X", ...
_TOPIC_LEADS = [
    r"(?:topic|subject|theme|conversation|discussion|chat|talk|question|questions|request|requests)s? "
    r"(?:is|are|turns?|moves?|shifts?|gets?|goes|concerns?|involves?|relates?|(?:is|are) related|(?:is|are) relevant)"
    r"(?:\s+(?:to|about|on|into|around|towards|regarding|concerning))?(?:\s+(?:about|to))?",
    r"(?:talk|talks|talking|speak|speaks|speaking|chat|chats|chatting|ask|asks|asking|discuss|discusses|discussing|"
    r"mention|mentions|mentioning|bring up|brings up|bringing up|comment|comments|respond|answer|help|helps|assist|"
    r"chime in|join in|jump in|weigh in|contribute|speak up|engage|reply|interject)"
    r"(?: (?:only|just|exclusively|solely))?"
    r"(?: (?:with|to|on|about|regarding|concerning|related to)(?: (?:questions?|requests?|things?|matters?|topics?|anything|something|conversations?) (?:about|on|related to|regarding|concerning|involving))?)",
    r"(?:questions?|requests?|things?|matters?|topics?|anything|something|conversations?) (?:about|on|related to|regarding|concerning|involving)",
    r"(?:is|are) (?:about|related to|regarding|concerning|on the (?:topic|subject) of)",
    r"(?:related|relevant) to",
    # "help the potters with their craft", "assist the kids with their homework"
    r"(?:help|helps|assist|assists)(?: (?:the|our|my|your|their|any|all))? [\w'-]+(?: [\w'-]+)? with",
    # "when it's about gardening", "whenever the talk turns to wine"
    r"(?:when|whenever|if|once) (?:it|it's|this|that|the (?:talk|conversation|chat|discussion))(?:'s| is| turns| gets| moves| comes)? "
    r"(?:to|about|on|onto|into|around)",
]
_TOPIC_LEAD = re.compile(r"\b(?:" + "|".join(_TOPIC_LEADS) + r")\s+", re.IGNORECASE)
_COMES_UP = re.compile(
    r"\b(?:when|whenever|if|once)\s+(?:the\s+)?([\w' ,-]{2,60}?)\s+(?:comes? up|is mentioned|is discussed|are discussed|are mentioned)\b",
    re.IGNORECASE,
)
# "Football questions only.", "Gardening talk only": the subject before "questions only".
_ONLY_TOPIC = re.compile(
    r"(?:^|[.;!?]\s+)([A-Za-z][\w' -]{2,40}?)\s+(?:questions?|requests?|topics?|talk|matters?)\s+only\b", re.IGNORECASE
)
_EXAMPLES = re.compile(r"\s+(?:such as|including|for example|e\.g\.)\s+", re.IGNORECASE)
# Where a topic phrase ends: a sentence mark, or the start of the next condition.
_TOPIC_END = re.compile(
    r"[.;:!?()]|,?\s+(?:or|and|but)\s+(?:when|whenever|if|only|also|to|stay|remain|otherwise|someone|somebody|anyone|people|you|answer|respond)\b|"
    r",\s*(?:when|whenever|if|unless|otherwise|else|stay|remain|keep|ignore|never|do not|don't|and stay|and remain|and ignore|and never|"
    r"and otherwise)\b|\s+(?:otherwise|unless|when|whenever|if|except|and nothing|and no other|but not|only|please)\b|\s+-\s",
    re.IGNORECASE,
)
_TOPIC_TRIM_START = re.compile(
    r"^(?:about|on|to|regarding|concerning|the (?:topic|subject) of|anything (?:about|to do with)|"
    r"(?:questions?|requests?)(?: and (?:questions?|requests?))? (?:about|on|related to|regarding)|things? (?:about|related to)|"
    r"topics? (?:like|such as)|"
    r"matters? of|"
    r"the|a|an|some|any|your|their|our)\s+",
    re.IGNORECASE,
)
_TOPIC_SPLIT = re.compile(r"\s*(?:,|/|;|\band/or\b|\bor\b)\s*(?:and\s+|or\s+)?", re.IGNORECASE)
_NOT_TOPICS = {
    "", "it", "you", "them", "this", "that", "these", "those", "something", "anything", "everything",
    "things", "stuff", "me", "us", "people", "someone", "anyone", "him", "her", "other topics",
    "other things", "anything else", "everything else", "else",
}
_CLAUSE_START = re.compile(
    r"(?:feel|please|you|just|stay|keep|be|do|don't|never|always|otherwise|then|answer|respond|reply|"
    r"say|join|chime|speak|talk|remain|ignore|help|but|so|I|we)\b",
    re.IGNORECASE,
)
_TOPIC_STOP_WORDS = {"only", "exclusively", "just", "solely", "specifically", "directly"}


def parse_instruction(text: str | None) -> GatingRules:
    """Extract the gating rules from ``text``; no gating phrase gives the default (proactive)."""
    source = (text or "").strip()
    if not source:
        return GatingRules(source=source)
    flat = re.sub(r"\s+", " ", source)

    wake, quoted_names = _wake_phrases(flat)
    names = _names(flat) + quoted_names
    name_required = bool(_NAME_GATING.search(flat)) or bool(quoted_names)
    if name_required and not names:
        # "only respond when someone says your name" without a name: nothing to match.
        name_required = False
    # A wake phrase that is only the name ("when someone says 'Nova'") is name gating.
    wake = tuple(w for w in wake if w.lower() not in {n.lower() for n in names})

    addressed = False
    for m in _ADDRESSED.finditer(flat):
        tail = flat[m.end() : m.end() + 25]
        # "addresses you by name" / "... you as Kit": the name gate, not "when asked directly".
        if name_required and re.match(r"\s*(?:(?:by|as|with) (?:your |its )?name\b|by [a-z]|(?:as |by )?[A-Z])", tail):
            continue
        addressed = True
        break

    topics = _topics(flat, names)
    known = {n.lower() for n in names} | {w.lower() for w in wake}
    found_roles = [m.group(1).lower() for m in _ROLE.finditer(flat)]
    # "You are the car's assistant": "Car, find a petrol station" calls it.
    found_roles += [m.group(1).lower() for m in _OWNER_ROLE.finditer(flat)]
    found_roles += [m.group(1).lower() for m in _DEVICE_ROLE.finditer(flat)]
    roles = tuple(r for r in _dedupe((*GENERIC_ROLES, *found_roles)) if r not in known)
    return GatingRules(
        topics=topics,
        names=_dedupe(names),
        wake_phrases=_dedupe(wake),
        only_when_addressed=addressed,
        source=source,
        name_required=name_required,
        roles=roles,
        meeting=bool(_MEETING.search(flat)),
    )


def _wake_phrases(flat: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Quoted or interjection-led phrases after "says"; single capitalised words are names."""
    phrases: list[str] = []
    names: list[str] = []
    for m in _WAKE_QUOTED.finditer(flat):
        phrase = next(g for g in m.groups() if g).strip(" .,!?")
        if not phrase:
            continue
        if " " not in phrase and phrase[:1].isupper() and phrase.lower() not in _INTERJECTIONS:
            names.append(phrase)
        else:
            phrases.append(phrase.lower())
    for m in _WAKE_BARE.finditer(flat):
        phrases.append(m.group(1).strip().lower())
    return tuple(phrases), tuple(names)


_INTERJECTIONS = {"hey", "hi", "hello", "ok", "okay", "yo", "computer", "assistant"}


def _names(flat: str) -> tuple[str, ...]:
    found: list[str] = []
    for pattern in _NAME_PATTERNS:
        for m in pattern.finditer(flat):
            name = m.group(1)
            if name.lower() not in _NOT_NAMES:
                found.append(name)
    return tuple(found)


def _topics(flat: str, names: tuple[str, ...]) -> tuple[str, ...]:
    spans: list[str] = []
    for m in _TOPIC_LEAD.finditer(flat):
        rest = flat[m.end() :]
        # "talk to you", "respond to questions directed at you": an address cue, not a topic.
        if re.match(r"(?:you|me|us|them|him|her|it|people|someone|anyone|questions? (?:directed|addressed|asked))\b", rest, re.I):
            continue
        end = _TOPIC_END.search(rest)
        spans.append(rest[: end.start()] if end else rest)
    for m in _COMES_UP.finditer(flat):
        spans.append(m.group(1))
    for m in _ONLY_TOPIC.finditer(flat):
        spans.append(m.group(1))
    # "role-playing games such as Dungeons & Dragons": the subject and its examples.
    spans = [_EXAMPLES.sub(", ", span) for span in spans]
    topics: list[str] = []
    for span in spans:
        found: list[str] = []
        for part in _TOPIC_SPLIT.split(span):
            if _CLAUSE_START.match(part.strip()):
                break  # "wine or cheese, feel free to join in": the list has ended
            topic = _clean_topic(part)
            low = topic.lower()
            if low in _NOT_TOPICS or low in {n.lower() for n in names} or len(low) < 3:
                continue
            if re.match(r"(?:you|yourself|your name|by name|directly|addressed|asked)\b", low):
                continue
            found.append(topic)
        topics.extend(_share_object(found))
    for m in _ELABORATION.finditer(flat):
        # "knitting and crochet: patterns, yarn, needles and stitches": each item, of that subject.
        head = next((t for t in topics if m.group(1).lower().rstrip().endswith(t.lower())), None)
        if head is not None:
            topics.extend(f"{head}: {_clean_topic(item)}" for item in re.split(r"\s*(?:,|\band\b|\bor\b)\s*", m.group(2))
                          if _clean_topic(item))
    return _dedupe(tuple(topics))


_ELABORATION = re.compile(r"([\w' -]{3,40}):\s*([\w' ,-]{3,120}?)\s*(?:[.;!?]|$)")


def _share_object(topics: list[str]) -> list[str]:
    """"fixing or maintaining bicycles" is fixing bicycles or maintaining bicycles."""
    if len(topics) != 2:
        return topics  # "camping, birdwatching or reading maps" is a list of three subjects
    last = topics[-1].split()
    if len(last) < 2 or not last[0].lower().endswith("ing"):
        return topics
    obj = " ".join(last[1:])
    return [f"{t} {obj}" if len(t.split()) == 1 and t.lower().endswith("ing") else t for t in topics]


def _clean_topic(part: str) -> str:
    topic = part.strip(" \t'\"“”‘’.,!?")
    previous = None
    while previous != topic:
        previous = topic
        topic = _TOPIC_TRIM_START.sub("", topic).strip(" '\"“”‘’")
    words = [w for w in topic.split() if w.lower() not in _TOPIC_STOP_WORDS]
    return " ".join(words)


def _dedupe(items: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.lower(), item)
    return tuple(seen.values())


_GATING_CLAUSE = re.compile(
    r"[^.;!?]*\b(only|never|don'?t|do not)\b[^.;!?]*\b(chime in|respond|reply|answer|speak|talk|interject|say anything)\b[^.;!?]*[.;!?]?",
    re.IGNORECASE,
)


def answer_instruction(text: str | None) -> str:
    """The instruction without its gating clauses, for the model that writes the answer.

    "You are an AI assistant in Italian cooking; only chime in when the topic is about Italian
    cooking." -> "You are an AI assistant in Italian cooking." The gating is the policy's job;
    left in, it tempts a small model to talk about when it may speak instead of answering.
    """
    if not text:
        return ""
    kept = _GATING_CLAUSE.sub(" ", text)
    kept = re.sub(r"\s+", " ", kept).strip(" ;,")
    if kept and kept[-1] not in ".!?":
        kept += "."
    return kept
