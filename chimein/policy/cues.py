"""Who a turn is addressed to, and whether it asks for something: rules over the transcript.

Why rules: in the first relevance study (``shared/docs/components.md``) sentence embeddings
measured topic but not address or intent (F1 ~0.7 alone), while these cues are what separates
"do you know how to make a pizza?" (a request anyone may answer) from "Maria, do you want
pizza tonight?" (a question to a person) and "Nova, turn on the lights" (the assistant called
by name) from "Nova and her brother went out" (a name mentioned).

Every cue reads punctuation when the recogniser kept it and falls back to word order when it
did not ("nova play some jazz", "how long do I boil pasta").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

__all__ = ["Cues", "RequestKind", "analyse"]

RequestKind = str
"""One of: "command", "question", "open_need", "continuation", "social", "statement"."""

#: How much each kind asks the assistant for something (the ``request`` score).
REQUEST_SCORE: dict[str, float] = {
    "command": 1.0,
    "question": 1.0,
    "continuation": 0.7,
    "open_need": 0.6,
    "social": 0.2,
    "statement": 0.0,
}

_TOKEN = re.compile(r"[A-Za-z0-9][\w'’-]*|[.,!?;:]")
_BOUNDARY = set(".!?;:")
_WH = {
    "what", "what's", "whats", "how", "how's", "hows", "why", "when", "when's", "where", "where's",
    "which", "who", "who's", "whose", "whom",
}
_CLAUSE_SUBJECTS = {
    "i", "you", "he", "she", "we", "they", "my", "your", "his", "her", "our", "their",
    "i'm", "you're", "he's", "she's", "we're", "they're", "i've", "you've", "we've", "they've",
}
"""After a wh-word, the subject of a clause ("what your country can do"), not an auxiliary ("what is")."""
_AUX = {
    "do", "does", "did", "is", "isn't", "are", "aren't", "was", "wasn't", "were", "can", "can't",
    "could", "would", "will", "won't", "should", "shall", "may", "might", "have", "has", "am",
    "don't", "doesn't", "didn't", "couldn't", "wouldn't", "shouldn't",
}
_NOT_A_SUBJECT = _AUX | {
    "to", "be", "been", "being", "not", "ever", "never", "also", "just", "only", "so", "as", "rather",
    "quite", "very", "too", "then", "than", "and", "or", "but", "of", "in", "on", "at", "by", "for",
    "with", "from",
}
"""After an auxiliary, words that cannot open its subject: "will be ever forget it.", "is to be
old-sposed." are not questions ("will you ...", "is the oven on ..." are)."""
_WH_QUESTION_NEXT = {"much", "many", "long", "often"}
"""After a wh-word, words that keep it a question ("how much", "how long"), like an auxiliary."""
_SUBORDINATING_WH = {"when", "whenever", "where", "wherever"}
"""Wh-words that also open a clause of time or place: "When a man looks for something, his friend says ..."."""
_FILLERS = {
    "and", "so", "oh", "ok", "okay", "well", "um", "uh", "umm", "hmm", "hey", "hi", "hello", "yes",
    "yeah", "no", "actually", "also", "then", "now", "but", "cool", "great", "wow", "perfect",
    "right", "alright", "sure", "honestly", "anyway", "just", "quick", "question", "listen",
    "please", "or", "roughly", "exactly", "wait", "nice", "thanks", "thank", "you", "yo",
}
_DISCOURSE = _FILLERS | {
    "nope", "yep", "seriously", "really", "ugh", "sorry", "look", "today", "tonight", "tomorrow",
    "yesterday", "first", "second", "finally", "fine", "true", "absolutely", "definitely", "maybe",
    "indeed", "interesting", "lovely", "amazing", "awesome", "fantastic", "weird", "funny", "damn",
    "gosh", "god", "jeez", "congrats", "congratulations", "cheers", "good", "bad", "fair", "agreed",
    "correct", "totally", "probably", "obviously", "otherwise", "however", "meanwhile", "besides",
    "plus", "still", "yet", "oops", "whoa", "aha", "ah", "huh", "mm", "lol", "haha", "welcome",
    "bye", "goodbye", "goodnight", "morning", "evening", "afternoon", "night", "here", "there",
    "this", "that", "these", "those", "it", "i", "we", "he", "she", "they", "my", "your", "our",
    "the", "a", "an", "me", "us", "them", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "again", "too", "though", "either", "already", "once", "instead",
    "ready", "done", "deal", "exactly", "same", "anyway", "anyways", "whatever",
}
_KIN = {
    "mom", "mum", "mommy", "mummy", "mama", "dad", "daddy", "papa", "honey", "hon", "sweetheart",
    "sweetie", "darling", "dear", "babe", "baby", "love", "guys", "kids", "grandma", "granny",
    "grandpa", "buddy", "dude", "bro", "sis", "son", "mate", "folks", "everyone", "everybody",
    "boss", "doc", "sir", "madam", "ma'am", "team", "y'all", "auntie", "uncle", "grandad",
}
_GREETINGS = {
    "hey", "hi", "hello", "ok", "okay", "yo", "thanks", "thank", "morning", "evening", "afternoon",
    "night", "please", "oh", "so", "and", "well", "um", "uh", "alright", "right", "sorry", "excuse",
    "dear", "listen", "look", "bye", "goodbye", "cheers", "welcome", "like",
}
_COMMAND_VERBS = {
    "tell", "give", "show", "explain", "describe", "define", "list", "recommend", "suggest", "find",
    "search", "look", "check", "set", "start", "stop", "pause", "resume", "play", "turn", "switch",
    "dim", "brighten", "lock", "unlock", "open", "close", "add", "remove", "remind", "text", "send",
    "read", "translate", "convert", "calculate", "compute", "spell", "help", "make", "put",
    "schedule", "cancel", "book", "repeat", "skip", "increase", "decrease", "raise", "lower",
    "mute", "unmute", "shuffle", "order", "note", "write", "summarize", "summarise", "compare",
    "name", "teach", "walk", "guide", "let", "remember", "call", "create", "update", "delete",
    "clear", "change", "sing", "count", "say", "share", "estimate", "plan",
}
# Things people ask of each other, not of a voice assistant.
_PERSON_VERBS = {
    "pass", "hand", "grab", "bring", "fetch", "carry", "lend", "hold", "pick", "drive", "come",
    "sit", "wait", "hurry", "restock", "clean", "wash", "feed", "take", "keep", "stay",
}
_SOCIAL_AFTER_YOU = {
    "want", "wanna", "like", "think", "feel", "prefer", "mind", "remember", "need", "love",
    "fancy", "mean", "see", "have", "go", "ever", "get", "put", "buy", "check", "call", "finish",
    "try", "tried", "seen", "been", "had", "done", "heard", "eaten", "coming", "going", "staying",
    "free", "ready", "okay", "ok", "alright", "hungry", "tired", "sure", "serious", "kidding",
    "joking", "still", "busy", "home", "there", "feeling", "doing", "working", "leaving",
    "watch", "watched", "say", "said", "hear", "know",
}
_INFO_AFTER_CAN_YOU = _COMMAND_VERBS | {"please", "quickly", "also", "just"}
_MISPLACED = r"(?:put|left|leave|parked|park|hid|hide|dropped|drop|lost|kept|keep|stashed)"
_WHERE_I_LEFT_TEXT = rf"where (?:did )?(?:i|we) {_MISPLACED}\b"
_WHERE_I_LEFT = re.compile(rf"\b{_WHERE_I_LEFT_TEXT}")
_SOCIAL_WH = re.compile(
    r"^(?:what|how|where|when|who|why)(?:'s)?(?:\s+(?:much|many|long|often|far))?\s+(?:did|were|was|are|have|had|will|would)\s+(?:you|we|u)\b(?!\s+(?:say|said|mean|suggest|recommend))|"
    # "is that one any better?", "can I see it?": about a thing the people are looking at
    r"^(?:is|was|does|did|are|were)\s+(?:that|this)\s+one\b|^(?:can|could|may)\s+i\s+(?:see|have|try|borrow|hold|look at)\s+(?:it|that|this|one|them|those|yours)\b|"
    r"^(?:what|who|which|where|how)(?:\s+\w+){0,2}\s+do\s+(?:you|u)\s+(?:think|want|like|prefer|mean|feel|fancy|love|reckon|say)\b|"
    r"^(?:what|who|how|where)(?:'s| is| was| are| were)\s+(?:your|ur)\b|^how(?:'s| is| are| was)\s+(?:it going|things|you|everyone|everything)\b|"
    r"^(?:what|why)\s+(?:happened|'s wrong|is wrong|'s up|is up|'s going on)\b|^what's\s+(?:wrong|up|going on)\b|"
    r"^how come\b|^why not\b|^whose (?:turn|job|go|round)\b|"
    # "where did I put my keys?": where the speaker left something, for the people who saw it
    rf"^{_WHERE_I_LEFT_TEXT}|^(?:what|how) about (?:you|we|us)\b|^why\s+(?:did|are|were|do|would)\s+(?:you|u)\b|"
    # "who wants coffee?", "who left the lights on?", "who's coming tonight?": about the people present
    r"^who(?:'s| is| are| was)?\s+(?:wants?|needs?|left|took|ate|finished|drank|broke|forgot|used|moved|parked|"
    r"has|had|going|coming|taking|doing|up for|joining|bringing|driving|cooking|paying|hungry|ready|in)\b",
)
_OPEN_NEED = re.compile(
    r"\bi wonder\b|\bi(?:'m| am) (?:wondering|curious|confused|trying to (?:figure out|remember|work out|understand))\b|"
    r"\b(?:i(?:'m| am) )?(?:(?:not|never|not ever|not really|not quite|not totally|not entirely|still not|never quite|never really) "
    r"(?:sure|certain|clear)|unsure)(?: (?:about|of|on))? (?:how|what|why|when|where|which|who|whether|if)\b|"
    r"^(?:(?:um|uh|so|honestly|well|and|but)\s+)*(?:no|not a|not the (?:faintest|slightest)) (?:idea|clue) (?:how|what|why|when|where|which|who|whether|if)\b|"
    r"\bi (?:never|don't|do not|can't|cannot|can never|still don't|still can't|really don't|never really|didn't|did not|"
    r"have never|'ve never|couldn't|honestly don't|just don't|always forget|keep forgetting|forget|forgot|never remember|"
    r"never understood|never get|don't really|can't ever)\s*(?:know|remember|understand|understood|get|got|figure out|"
    r"figured out|recall|tell|work out)?\s+(?:how|what|why|when|where|which|who|whether|if|the|about|a|an|much|many|"
    r"what's|which|whats)\b|"
    r"\b(?:does|do|did) (?:anyone|anybody|someone|somebody|any of you|you guys|either of you) "
    r"(?:know|remember|have (?:any|an|a) (?:idea|clue|tip|tips|recipe|suggestion|suggestions)|understand)\b|"
    r"\bany ?(?:one|body) (?:know|knows|remember)\b|\b(?:i have|i've got|i got|with) no (?:idea|clue) (?:how|what|why|when|where|which|who|whether|if)\b|"
    r"\bi(?:'d| would) (?:like|love) to (?:know|learn|find out|understand)\b|\bi (?:want|need|wanted) to (?:know|find out|figure out|learn|understand)\b|"
    r"\bi(?:'m| am) (?:looking for|trying to find)\b|\bi can never (?:remember|tell|figure|get)\b",
)
_EMBEDDED_QUESTION = re.compile(
    r"\b(?:how|what|why|when|where|which|who)(?:'s)?\s+(?:do|does|did|can|could|should|would|will|is|are|was|were|"
    r"much|many|long|often|far|big|old|tall|deep|early|late|temperature|time)\b"
)
_MENTION_BEFORE_NAME = {
    "to", "with", "about", "asked", "ask", "told", "tell", "named", "called", "call", "love", "like",
    "saw", "see", "from", "for", "at", "by", "of", "and", "or", "the", "my", "our", "is", "was",
    "think", "use", "using", "used", "set", "that", "if", "whether", "trust", "hate", "fix", "reset",
}
_DETERMINERS = {"a", "an", "the", "my", "your", "our", "his", "her", "their", "its", "this", "that", "new", "old", "first", "own"}
_PEOPLE_WORDS = {"we", "we're", "we've", "we'll", "we'd", "our", "ours", "us", "let's", "your", "yours", "y'all", "guys"}
_FRAGMENT_WORDS = 4
_ANAPHORA = {"it", "its", "it's", "that", "this", "those", "these", "they", "them", "their", "one", "ones", "then", "instead", "else", "too", "either", "also", "such"}
#: Words that name no subject: function words, pronouns, and the verbs and adverbs of any problem.
_GENERIC_WORDS = {
    "a", "an", "the", "and", "or", "but", "so", "um", "uh", "oh", "well", "like", "you", "know", "okay", "ok",
    "what", "what's", "whats", "how", "why", "when", "where", "which", "who", "whose", "whether", "if",
    "i", "i'm", "me", "my", "we", "us", "our", "your", "he", "she", "him", "her", "his", "there", "here",
    "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "doing", "done", "have", "has", "had",
    "can", "could", "should", "would", "will", "shall", "may", "might", "must", "not", "don't", "didn't", "doesn't",
    "can't", "won't", "wouldn't", "shouldn't", "isn't", "wasn't", "to", "of", "in", "on", "at", "for", "from",
    "with", "about", "up", "out", "off", "again", "now", "then", "still", "really", "actually", "just", "even",
    "tonight", "today", "tomorrow", "next", "time", "make", "makes", "made", "get", "gets", "got", "go", "goes",
    "went", "happen", "happens", "happened", "happening", "stop", "stopped", "fix", "fixed", "cause", "causes",
    "caused", "wrong", "right", "better", "best", "worse", "anything", "something", "thing", "things", "way",
    "problem", "mean", "means", "work", "works", "working", "worked", "help", "try", "need", "needs", "want",
    "think", "normal", "enough", "too", "much", "many", "long", "often", "avoid", "prevent", "keep",
    "keeps", "kept", "going", "any", "some", "all", "ways", "else", "instead",
}
_CONTINUATION_START = ("and", "so", "but", "also", "or", "then", "what about", "how about", "what if", "and what", "and how")
_SAY_VERBS = {"say", "says", "said", "saying", "call", "calls", "called", "word", "words", "phrase", "like", "shout", "shouts", "yell"}
_WAKE_FILLERS = {"ok", "so", "um", "uh", "oh", "and", "well", "alright", "yeah", "hmm", "right", "now", "please", "like",
                 "i'm", "a"}  # "um" is often written "I'm" at the start of a turn, "uh" "a"
_VARIANTS = {"okay": "ok", "o.k.": "ok", "k": "ok", "hay": "hey", "heya": "hey"}


@dataclass(frozen=True)
class Cues:
    """What the words of one turn say about intent and addressee."""

    kind: RequestKind
    to_person: str | None = None
    """The person addressed ("Maria", "mom") when the turn is spoken to someone else."""
    assistant_vocative: str | None = None
    """The assistant name used to call it ("Nova, turn on the lights")."""
    name_mentioned: bool = False
    wake: str | None = None
    """The wake phrase used to call the assistant."""
    wake_in_passing: bool = False
    anaphoric: bool = False
    """Leans on the previous turn ("and how long in the oven?", "can it make you drowsy?")."""
    no_subject: bool = False
    """Names nothing of its own ("what did I do wrong?", "how do we stop that happening?"): its
    subject is whatever was just said."""
    role_vocative: str | None = None
    """A role word used to call the assistant ("Assistant, ...", "Computer, ...", "Coach, ...")."""
    people_talk: bool = False
    """Asks about the people present or their shared business ("who's presenting?", "what did the
    users say?", "is that right?"): in a meeting, a question for colleagues, not for the assistant."""

    @property
    def request(self) -> float:
        return REQUEST_SCORE[self.kind]

    @property
    def asks(self) -> bool:
        """An explicit request: a question or a command (social questions excluded)."""
        return self.kind in ("command", "question")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.replace("’", "'"))


def _segments(text: str) -> list[tuple[str, str]]:
    """(segment text, closing mark) split at sentence marks and commas."""
    parts = re.split(r"([.!?;:,]+|\s+-\s+)", text.replace("’", "'"))
    out: list[tuple[str, str]] = []
    for i in range(0, len(parts), 2):
        seg = parts[i].strip()
        mark = parts[i + 1].strip() if i + 1 < len(parts) else ""
        if seg:
            out.append((seg, mark))
        elif out and mark:
            out[-1] = (out[-1][0], out[-1][1] + mark)
    return out


def _words(seg: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Za-z0-9][\w'-]*", seg)]


def _skip_fillers(words: list[str], names: set[str]) -> list[str]:
    i = 0
    while i < len(words) and (words[i] in _FILLERS or words[i] in names):
        # "thank you" is a filler pair; a bare "you" opening a clause is not.
        if words[i] == "you" and (i == 0 or words[i - 1] != "thank"):
            break
        if words[i] in names:
            nxt = words[i + 1] if i + 1 < len(words) else ""
            after = words[i + 2] if i + 2 < len(words) else ""
            # "Sage is growing well": the name is the subject, not someone being called.
            if nxt in ("and", "or", "'s") or (nxt in _AUX and after not in ("you", "u", "i", "we", "it", "there")):
                break
        i += 1
    return words[i:]


def _segment_kind(seg: str, mark: str, names: set[str]) -> RequestKind:
    low = " ".join(_words(seg))
    if _OPEN_NEED.search(low):
        return "open_need"
    words = _skip_fillers(_words(seg), names)
    if not words:
        return "statement"
    rest = " ".join(words)
    first = words[0]
    second = words[1] if len(words) > 1 else ""
    third = words[2] if len(words) > 2 else ""
    if first in ("let's", "lets") or rest.startswith(("let us ", "how about we", "what about we")):
        return "social"
    if first in ("fancy", "wanna") or (first == "want" and second in ("to", "a", "some", "me", "us")):
        return "social"  # "want to come to the recital on Friday?", "fancy a walk?": an invitation
    if first in _AUX and second in ("you", "u", "ya", "we", "y'all", "he", "she"):
        if second in ("you", "u", "ya") and first in ("can", "could", "would", "will", "won't") and third in _INFO_AFTER_CAN_YOU:
            return "question"
        if second in ("you", "u") and third == "know" and _WHERE_I_LEFT.search(rest):
            return "social"  # "do you know where I put my keys?": only someone who saw can tell
        if second in ("you", "u") and third in ("know", "have") and re.match(
            r"(?:do|does|did) (?:you|u) (?:know (?:how|what|why|when|where|which|who|whether|if|any|anything|a|the|of)|"
            r"have (?:any|an|a) (?:idea|clue|tip|tips|recipe|suggestion|suggestions|recommendation))\b",
            rest,
        ):
            return "question"
        if second in ("you", "u") and third and third not in _SOCIAL_AFTER_YOU and third not in _PERSON_VERBS:
            # "do you boil pasta with the lid on?": "you" is everyone. Ask the plain question.
            if first in ("do", "does", "should", "can", "could") and third not in ("ever", "guys"):
                return "question"
        return "social"
    if first in _AUX and second in ("anyone", "anybody", "somebody", "someone") and re.match(
        r"\w+ \w+ (?:look (?:up|into)|google|search|find out|check (?:how|what|when|where|which|who|whether|if)|"
        r"work out|figure out|calculate|tell (?:me|us) (?:how|what|why|when|where|which|who|whether|if))\b", rest
    ):
        return "open_need"  # "can someone look up the launch date?": work an assistant can do
    if first in _AUX and second in ("anyone", "anybody", "everyone", "somebody", "someone", "either"):
        return "social"
    if first in ("can", "could", "would", "will") and second in ("you", "u") and third in _PERSON_VERBS:
        return "social"
    if first in _WH and mark in (".", ",") and second in _CLAUSE_SUBJECTS and len(words) >= 4:
        # "What your country can do for you, ask ...", "Where we grew up was ...", "just what he's
        # talking about, duplication of effort": a clause that the speaker did not close as a
        # question (a speech on a loudspeaker, people talking in a meeting).
        return "statement"
    closed_as_statement = bool(mark) and not mark.startswith("?")  # the recogniser punctuated it
    if closed_as_statement and first in _AUX and second in _NOT_A_SUBJECT:
        return "statement"  # read speech, a book or the radio: "will be ever forget it."
    if (closed_as_statement and mark.startswith(",") and first in _SUBORDINATING_WH
            and second not in _AUX and second not in _WH_QUESTION_NEXT | {"else"}):
        return "statement"  # "When a man looks for something beyond his reach, his friend says ..."
    if first in _WH or (first in _AUX and second):
        if _SOCIAL_WH.match(rest):
            return "social"
        return "question"
    if first in _PERSON_VERBS and (second in ("me", "us", "the", "that", "this", "it", "my", "your") or not second):
        return "social"
    if first == "let" and second == "me" and third not in ("know", "hear"):
        return "statement"  # "let me finish this first": the speaker's own plan, not a request ("let me know" is)
    if first in _COMMAND_VERBS and second not in ("you", "i", "we", "he", "she", "they", "is", "was", "are", "were", "'s"):
        # "Remember when ..." / "Look at that" are chat, not commands.
        if not (first in ("remember", "look", "say", "call", "name", "note", "walk") and second in ("when", "at", "what", "him", "her")):
            return "command"
    if rest.startswith(("i need you to", "i want you to", "i'd like you to", "i would like you to")):
        return "command"
    inner = _inner_question(words)
    if inner is not None:
        return _segment_kind(" ".join(words[inner:]), mark, names)
    if mark.startswith("?"):
        return "question"
    return "statement"


_INNER_AUX = {"do", "does", "can", "could", "would", "will", "should", "is", "are", "shall"}
_NOT_BEFORE_INNER = {
    "i", "you", "we", "they", "he", "she", "it", "that", "this", "who", "what", "which", "there",
    "if", "whether", "how", "why", "when", "where", "know", "wonder", "sure", "so", "as", "than",
    "to", "not", "never", "also", "really", "just", "kids", "people",
} | _AUX


def _inner_question(words: list[str]) -> int | None:
    """Where a question starts inside a run-on clause ("I like Italian food do you know how ...").

    Recognisers often drop the full stop between two sentences; a question then hides after a
    statement. Only clear question openings count: an auxiliary followed by you/I/we, or a
    wh-word followed by an auxiliary, not preceded by a subject or a verb that embeds it.
    """
    for k in range(1, len(words) - 1):
        prev, here, nxt = words[k - 1], words[k], words[k + 1]
        if prev in _NOT_BEFORE_INNER:
            continue
        if here in _INNER_AUX and nxt in ("you", "u", "i", "we"):
            return k
        if here in ("how", "what", "why", "where", "when", "which") and nxt in _INNER_AUX | _WH_QUESTION_NEXT | {"did"}:
            return k
    return None


def _is_tag(segment: str, names: set[str]) -> bool:
    """A one- or two-word tail that is no question without its question mark ("right?", "you
    know?", a misheard "let you?"): it does not ask anything of its own."""
    return 0 < len(_words(segment)) <= 2 and _segment_kind(segment, ".", names) == "statement"


def _request_kind(text: str, names: set[str]) -> RequestKind:
    segments = _segments(text)
    kinds = [_segment_kind(seg, mark, names) for seg, mark in segments]
    if len(kinds) > 1 and _is_tag(segments[-1][0], names) and any(k != "statement" for k in kinds[:-1]):
        kinds.pop()  # "Did you finish the book, right?" asks what its first clause asks
    asking = [k for k in kinds if k != "statement"]
    # An open need anywhere ("I never know whether ...") colours the turn unless a later
    # segment asks outright.
    kind = asking[-1] if asking else "statement"
    if kind == "statement":
        low = " ".join(_words(text))
        punctuated = bool(re.search(r"[.!?;:,]", text))
        if not punctuated:
            m = _EMBEDDED_QUESTION.search(low)
            if m:  # ASR without punctuation: "my carbonara ... how do I stop that"
                kind = "social" if _SOCIAL_WH.match(low[m.start() :]) else "question"
    words = _words(text)
    if kind in ("statement", "question") and words and len(words) <= 8 and (
        words[0] in ("and", "also", "or") or " ".join(words[:2]) in ("what about", "how about", "and what", "and how")
    ):
        return "continuation" if kind == "statement" else kind
    return kind


def _vocative_person(tokens: list[str], kind: RequestKind, names: set[str]) -> str | None:
    """A person called at the start or the end of the turn ("Maria, ...", "..., Mom.")."""
    words = [t for t in tokens if t not in _BOUNDARY and t != ","]
    if not words:
        return None
    # Leading: [greeting] Name ,  (or Name + aux + you without a comma)
    i = 0
    while i < len(tokens) and tokens[i].lower() in _GREETINGS and tokens[i].lower() not in _KIN:
        i += 1
    if i < len(tokens):
        cand = tokens[i]
        low = cand.lower()
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        after = tokens[i + 2].lower() if i + 2 < len(tokens) else ""
        greeted = i > 0 and tokens[i - 1].lower() in ("hey", "hi", "hello", "yo", "thanks", "morning", "evening", "night")
        is_word = cand not in _BOUNDARY and cand != ","
        looks_like_name = is_word and low not in names and (
            low in _KIN
            or (cand[:1].isupper() and low not in _DISCOURSE and low not in _WH and low not in _AUX
                and low not in _COMMAND_VERBS and not low.endswith("ly"))
        )
        if looks_like_name and (nxt in (",", "!", ":") or greeted) and kind != "statement":
            return cand
        if looks_like_name and low in _KIN and nxt in (",", "!", ":"):
            return cand
        if (
            is_word and low not in names and low not in _DISCOURSE and low not in _WH and low not in _AUX
            and low not in _COMMAND_VERBS and low not in _PERSON_VERBS
            and nxt.lower() in _AUX and after in ("you", "u", "we")
        ):
            return cand  # "maria do you want pizza"
    # Trailing: ", Name." / ", sweetheart."
    if len(tokens) >= 3:
        j = len(tokens) - 1
        while j > 0 and tokens[j] in _BOUNDARY:
            j -= 1
        cand = tokens[j]
        low = cand.lower()
        before = tokens[j - 1] if j > 0 else ""
        if low not in names and before == "," and (
            low in _KIN or (cand[:1].isupper() and low not in _DISCOURSE and low not in _WH)
        ):
            return cand
    return None


def _assistant_vocative(tokens: list[str], kind: RequestKind, names: set[str]) -> tuple[str | None, bool]:
    """(name used to call the assistant, name mentioned at all)."""
    lows = [t.lower() for t in tokens]
    mentioned = False
    for i, low in enumerate(lows):
        if low not in names:
            continue
        mentioned = True
        prev = lows[i - 1] if i > 0 else ""
        nxt = lows[i + 1] if i + 1 < len(lows) else ""
        after = lows[i + 2] if i + 2 < len(lows) else ""
        at_start = (i == 0 or prev in _BOUNDARY or prev in _GREETINGS or prev == ","
                    or all(w in _WAKE_FILLERS or w in _BOUNDARY or w == "," for w in lows[:i]))  # "uh, Benji, ..." as "a Benji"
        if at_start and (
            nxt in ("", ",", "!", "?", ":", ".", ";")
            or nxt in _COMMAND_VERBS or nxt in _WH or nxt in ("please", "i", "i'm", "i'd", "i've", "we", "let's")
            or (nxt in _AUX and after in ("you", "u", "i", "we", "it", "there"))
        ):
            if not (nxt in _COMMAND_VERBS and after in ("is", "are", "was")):
                return tokens[i], True
        at_end = all(t in _BOUNDARY for t in lows[i + 1 :])
        bare_end = prev not in _MENTION_BEFORE_NAME and prev not in _DETERMINERS and "-" not in prev
        if at_end and i > 0 and (prev == "," or (bare_end and kind in ("command", "question"))):
            return tokens[i], True
    return None, mentioned


def _wake(tokens: list[str], phrases: tuple[str, ...]) -> tuple[str | None, bool]:
    """(wake phrase used as a call, wake phrase said in passing)."""
    words: list[str] = []
    boundary_before: list[bool] = []
    pending = True
    for t in tokens:
        if t in _BOUNDARY or t == ",":
            pending = True
            continue
        low = _VARIANTS.get(t.lower(), t.lower())
        if low == "ok" and words and words[-1] in ("go", "o") and not pending:
            words[-1] = "ok"  # "okay" heard as "Go K" / "O K"
            continue
        words.append(low)
        boundary_before.append(pending)
        pending = False
    passing = False
    for phrase in phrases:
        target = [_VARIANTS.get(w, w) for w in re.findall(r"[a-z0-9']+", phrase.lower())]
        n = len(target)
        if not n:
            continue
        for i in range(len(words) - n + 1):
            if words[i : i + n] != target and not _heard_as(words, i, target):
                continue
            lead = words[max(0, i - 2) : i]
            if i == 0 or all(w in _WAKE_FILLERS for w in words[:i]):
                return phrase, False  # "like, hey Cobalt, ...": only fillers before it
            # "when you say hey Atlas" quotes it; "turn the porch light on, hey Atlas" calls it.
            if any(w in _SAY_VERBS for w in lead) and not boundary_before[i]:
                passing = True
                continue
            if boundary_before[i]:
                return phrase, False
            passing = True
    return None, passing


#: How close (difflib ratio) a recogniser's spelling of a wake phrase's name must be to count.
WAKE_NAME_SIMILARITY = 0.8


def _heard_as(words: list[str], i: int, target: list[str]) -> bool:
    """The wake phrase as a recogniser may spell it: its greeting word exactly, then its name close
    in letters, in as many words as it was heard in ("hey at last" for "hey Atlas", "hello Bazil")."""
    if len(target) < 2 or words[i] != target[0] or target[0] not in _GREETINGS:
        return False
    name = "".join(target[1:])
    if len(name) < 4:
        return False  # a short name is too close to too many words
    for span in (1, 2):
        heard = "".join(words[i + 1 : i + 1 + span])
        if heard and SequenceMatcher(None, heard, name).ratio() >= WAKE_NAME_SIMILARITY:
            return True
    return False


_SOUND_RULES = (
    (r"^wr", "r"), (r"^wh", "w"), (r"^kn", "n"), (r"^gn", "n"), (r"^ps", "s"),
    (r"ph", "f"), (r"ck", "k"), (r"qu", "kw"), (r"q", "k"), (r"x", "ks"), (r"c(?=[eiy])", "s"), (r"c", "k"),
    (r"z", "s"), (r"dg", "j"), (r"(?<=[aeiou])h$", ""), (r"(?<=[^aeiou])e$", ""), (r"(ie|ee|ey|y)$", "i"),
    (r"(.)\1", r"\1"),
)


def _sound(word: str) -> str:
    """A spelling-blind key for a name: "Wren" and "Ren", "Bazil" and "Basil", "Lumie" and "Lumi"
    share one. Vowels stay, so "Kate" is not "Kit"."""
    key = re.sub(r"[^a-z]", "", word.lower())
    for pattern, repl in _SOUND_RULES:
        key = re.sub(pattern, repl, key)
    return key


def _sounds_like(word: str, names: set[str]) -> bool:
    """``word`` is one of ``names`` as a recogniser may spell it (names of three letters or more):
    the same sound key, or the same key but for its first letter when three letters remain
    ("Bren" for "Wren": the recogniser's commonest slip on a name is its first consonant)."""
    key = _sound(word)
    if len(key) < 3:
        return False
    for name in names:
        other = _sound(name)
        if len(other) < 3:
            continue
        if other == key:
            return True
        if max(len(key), len(other)) < 4:
            continue  # "Ben" and "Ken": too short to tell a slip from another name
        stems = {key, _without_onset(key)} & {other, _without_onset(other)}
        if any(len(stem) >= 3 for stem in stems):
            return True
    return False


def _without_onset(key: str) -> str:
    """A sound key without its first consonant, if it starts with one."""
    return key[1:] if key[:1] not in "aeiou" else key


#: What a recogniser glues in front of a role it heard after a hesitation ("Unassistant" for "Um, assistant").
_GLUED_FILLERS = ("um", "un", "uh", "er", "ah", "oh")


def _glued_role(word: str, roles: set[str]) -> str | None:
    """The role inside a one-word vocative that is a filler glued to it, else None."""
    low = word.lower()
    for role in roles:
        if " " in role or len(role) < 5:
            continue
        for filler in _GLUED_FILLERS:
            if low == filler + role:
                return role
    return None


_REACTION = re.compile(
    r"(?:[\w']+,?\s+)?(?:(?:oh|yeah|wait|um|uh|so|no|wow),?\s+)*"
    r"(?:really|seriously|is it|was it|does it|did it|did they|you think|no way|for real|huh)\s*[?!.]*",
    re.IGNORECASE,
)
"""A question that only reacts (at most one word of its own before it): "really?", "Yellow, really?"."""


def analyse(
    text: str, names: tuple[str, ...] = (), wake_phrases: tuple[str, ...] = (), roles: tuple[str, ...] = ()
) -> Cues:
    """Read the cues of one turn. ``names`` are the assistant's names, ``roles`` words that call
    it without one ("assistant", "computer"): never a person being addressed."""
    name_set = {n.lower() for n in names}
    # One-word wake phrases ("computer") behave like names.
    name_set |= {w.lower() for w in wake_phrases if " " not in w.strip()}
    role_set = {r.lower() for r in roles} - name_set
    multi_wake = tuple(w for w in wake_phrases if " " in w.strip())
    tokens = _tokens(text)
    kind = _request_kind(text, name_set | role_set)
    if kind == "question" and _REACTION.fullmatch(text.strip()):
        kind = "social"  # "Yellow, really?", "Oh, is it?": a reaction to what someone said, not a request
    vocative, mentioned = _assistant_vocative(tokens, kind, name_set)
    role = None
    if vocative is None and role_set:
        role, _ = _assistant_vocative(tokens, kind, role_set)
    wake, passing = _wake(tokens, multi_wake)
    if vocative and vocative.lower() in {w.lower() for w in wake_phrases}:
        wake, vocative = vocative.lower(), None
    person = None if (vocative or wake or role) else _vocative_person(tokens, kind, name_set | role_set)
    if person is not None:
        # A person called by a name that sounds like the assistant's is the assistant, misspelt.
        if _sounds_like(person, name_set):
            vocative, person, mentioned = person, None, True
        elif (glued := _glued_role(person, role_set)) is not None:
            role, person = glued, None
    words = _words(text)
    anaphoric = bool(words) and (
        any(w in _ANAPHORA for w in words) or " ".join(words[:2]).startswith(_CONTINUATION_START) or words[0] in _CONTINUATION_START
    )
    return Cues(
        kind=kind,
        to_person=person,
        assistant_vocative=vocative,
        name_mentioned=mentioned,
        wake=wake,
        wake_in_passing=passing and wake is None,
        anaphoric=anaphoric,
        no_subject=bool(words) and all(w in _GENERIC_WORDS or w in _ANAPHORA for w in words),
        role_vocative=role,
        people_talk=_people_talk(words, kind, anaphoric),
    )


def _people_talk(words: list[str], kind: RequestKind, anaphoric: bool) -> bool:
    """A question about the people present or their shared business, not a request for knowledge.

    "Can you summarise ...?" / "could you tell me ...?" are requests to whoever can help; "who's
    presenting?", "what did the users say?", "is that right?" and anything about "our" plan are
    for colleagues.
    """
    if kind not in ("question", "continuation") or not words:
        return False
    rest = _skip_fillers(words, set())
    if not rest:
        return False
    first, second = rest[0], rest[1] if len(rest) > 1 else ""
    if first in ("can", "could", "would", "will") and second in ("you", "u"):
        return False
    if first in ("who", "who's", "whose", "whom"):
        return True
    if first in _WH and second in ("did", "was", "were", "have", "has", "had"):
        return True
    if " ".join(rest[:2]) in ("what about", "how about"):
        return True  # "what about the colour?": picking up what someone else said
    if any(w in _PEOPLE_WORDS for w in rest):
        return True
    return kind == "continuation" or (anaphoric and len(rest) <= _FRAGMENT_WORDS)
