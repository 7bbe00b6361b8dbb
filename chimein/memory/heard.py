"""Heard material: recordings the assistant listened to, searchable by the questions asked later.

Why retrieval and not a long prompt: the embedded model (SmolLM2-135M) cannot find a fact in a
page of transcript, and even strong models answer better from the two or three sentences that
matter. Each recording is kept as time-stamped sentences; a question is scored against every
sentence by MiniLM cosine plus a lexical overlap of content words (names and numbers that
sentence embeddings blur), and only sentences above a calibrated floor count as evidence.
Below the floor, a question that refers to the recording ("what did the speaker say about
...") gets "I did not hear that" instead of an invented answer.

The floor and the overlap weight come from ``python -m chimein.memory.evaluate --calibrate``
on the calibration split of ``chimein/memory/data/colisten_questions.yaml`` (see
:data:`RELEVANCE_FLOOR`). Two classic extractive-QA checks sharpen the decision: a sentence
holding every content word of the question counts even below the floor, and a question asking
for a quantity, a time or a month needs one in its evidence.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from chimein.memory.listening import HeardSentence

if TYPE_CHECKING:
    from chimein.policy.embedding import TextEmbedder

__all__ = [
    "Grounding",
    "HeardRecording",
    "HeardSegment",
    "HeardStore",
    "Hit",
    "LEXICAL_WEIGHT",
    "NOT_HEARD_REPLY",
    "RELEVANCE_FLOOR",
    "refers_to_heard",
    "spoken_time",
]

# Calibrated with `python -m chimein.memory.evaluate --calibrate` on the calibration split only
# (8 answerable, 8 not-heard and 16 general questions over 8 real recordings): balanced accuracy
# 0.917 for any floor in 0.22..0.27 with the cosine alone, and worse with the lexical overlap
# added to the score (0.875 at weight 0.25, 0.854 at 0.5, 0.833 at 1.0). Lexical overlap is
# therefore used only through ALL_WORDS_RULE below; the floor is the middle of the best range.
LEXICAL_WEIGHT = 0.0
"""score = MiniLM cosine + LEXICAL_WEIGHT * share of the question's content words in the sentence."""
RELEVANCE_FLOOR = 0.24
"""Sentences scoring below this are not evidence for the question."""
ALL_WORDS_RULE = True
"""A sentence holding every content word of the question is evidence even below the floor."""
MAX_EVIDENCE = 3
MAX_QUOTE_WORDS = 50
"""A second evidence sentence is quoted only while the quote stays this short."""
"""Sentences put into the language model's prompt."""
MAX_SEGMENTS = 20_000
"""Oldest sentences are forgotten beyond this (about 20 hours of speech; bounds a long session)."""
SHORT_QUOTE_WORDS = 8
"""A quoted sentence shorter than this is followed by the next one from the same recording."""

NOT_HEARD_REPLY = "I didn't hear anything about that in the recording."

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOPWORDS = frozenset(
    """a an the and or but if then than so of to in on at by for from with about into over under
    after before during between through up down out off again once here there when where why how
    what which who whom whose this that these those is are was were be been being am do does did
    doing done have has had having i me my mine we us our ours you your yours he him his she her hers
    it its they them their theirs can could shall should will would may might must not no nor only
    own same too very just also any all each few more most other some such both either neither
    s t don't didn't isn't wasn't aren't weren't won't wouldn't can't couldn't shouldn't it's that's
    tell told ask asked say said says saying mention mentioned talk talked talking speak spoke
    speaker speakers recording recorded clip audio file heard hear hearing listen listened voice
    one get got go going went like well really know think thing things please again
    """.split()
)
# Words that make a question point at heard material even when nothing in it matches.
_HEARD_CUE = re.compile(
    r"\b(recording|recorded|clip|audio|file|track|podcast|voicemail|voice ?mail|message|video|"
    r"broadcast|lecture|interview|speech|talk|speaker|narrator|reader|announcer|caller|presenter|host|"
    r"heard|hear|listened|played|"
    r"(did|does|was|were|is) (he|she|they)|"
    r"(he|she|they) (just )?(say|said|says|mention(ed)?|told|asked|talked|describ(e|ed)|explain(ed)?|"
    r"recommend(ed)?|suggest(ed)?|call(ed)?|gave|give|want(ed)?)|"
    r"the (man|woman|guy|lady|person|people|voice|host)s?)\b",
    re.IGNORECASE,
)


_QUANTITY_QUESTION = re.compile(
    r"^\W*(how (many|much|fast|far|old|big|tall|high|heavy|large)|what (number|price|temperature|percentage|"
    r"amount|phone number|size))\b",
    re.IGNORECASE,
)
_TIME_QUESTION = re.compile(r"^\W*(how (long|often|soon)|what (time|year|date|day)|when)\b", re.IGNORECASE)
_MONTH_QUESTION = re.compile(r"\b(which|what) month\b", re.IGNORECASE)
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion half quarter third dozen couple few several"
).split()
_TIME_WORDS = (
    "once twice minute minutes hour hours day days week weeks month months year years noon midnight morning "
    "evening night tonight morrow tomorrow yesterday today monday tuesday wednesday thursday friday saturday "
    "sunday spring summer autumn fall winter early late soon"
).split()
_NUMBER = re.compile(r"\d|\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_TIME = re.compile(r"\d|\b(" + "|".join(_NUMBER_WORDS + _TIME_WORDS) + r")\b", re.IGNORECASE)
_MONTH = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december)\b", re.IGNORECASE
)


def answer_type_fits(question: str, evidence: str) -> bool:
    """False when the question asks for a quantity, a time or a month and the evidence holds none.

    The classic expected-answer-type check of extractive QA: "how many knights ..." is not
    answered by a sentence about knights that has no number in it.
    """
    if _MONTH_QUESTION.search(question):
        return bool(_MONTH.search(evidence))
    if _QUANTITY_QUESTION.search(question):
        return bool(_NUMBER.search(evidence))
    if _TIME_QUESTION.search(question):
        return bool(_TIME.search(evidence))
    return True


_DEFINITE = re.compile(r"\b(?:the|that|this|those|these)\s+([a-z]+)\b(?!\s+of\b)", re.IGNORECASE)


def refers_to_heard(question: str, vocabulary: set[str] | frozenset[str] = frozenset()) -> bool:
    """True when the question points at something listened to.

    Either a cue ("what did she say about ...", "in the recording") or a definite reference to
    a thing that was heard ("the steamer", "the queen": a noun after "the" that occurs, stemmed,
    in the heard transcripts given as ``vocabulary``). "The X of Y" carries its own reference
    ("the capital of France") and does not count.
    """
    if _HEARD_CUE.search(question):
        return True
    return any(_stem(m.group(1).lower()) in vocabulary for m in _DEFINITE.finditer(question))


def _stem(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased, crudely stemmed words that carry content (stopwords and cue words removed)."""
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def spoken_time(seconds: float) -> str:
    """A time in a recording as a voice would say it: 'at the start', 'about 12 seconds in'."""
    s = max(0, round(seconds))
    if s < 2:
        return "right at the start"
    if s < 60:
        return f"about {s} seconds in"
    m, s = divmod(s, 60)
    minutes = f"{m} minute{'s' if m != 1 else ''}"
    return f"about {minutes} {s} seconds in" if s else f"about {minutes} in"


def clock_time(seconds: float) -> str:
    """m:ss for prompts and logs."""
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


@dataclass(frozen=True)
class HeardSegment:
    """One time-stamped sentence of a recording (times from the recording's start)."""

    recording_id: int
    start_s: float
    end_s: float
    text: str
    speaker: str | None = None


@dataclass
class HeardRecording:
    """A recording listened to: where it came from, when, and whether it is still being heard."""

    id: int
    source: str
    """"recording" for a file sent by the client, "microphone" for audio played into the mic."""
    heard_at_s: float
    """Session clock (seconds of input audio) when listening began."""
    duration_s: float | None = None
    complete: bool = False
    compact: bool = False
    """True once context compression has reduced it to a note (its sentences stay searchable)."""
    label: str = "the recording"
    """How answers name it: "the recording", "the second recording"."""


@dataclass(frozen=True)
class Hit:
    """A sentence retrieved for a question, with the parts of its score."""

    segment: HeardSegment
    score: float
    cosine: float
    overlap: float


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


@dataclass(frozen=True)
class Grounding:
    """What the heard material says about one question, and how the answer should be grounded."""

    question: str
    hits: tuple[Hit, ...]
    """Evidence: sentences at or above the floor, best first (at most MAX_EVIDENCE)."""
    best: Hit | None
    """The best-scoring sentence, even below the floor (for logs and calibration)."""
    refers_to_heard: bool
    labels: dict[int, str] = field(default_factory=dict)
    follow: HeardSegment | None = None
    """The sentence after the best one, quoted too when the best one is short."""

    @property
    def relevant(self) -> bool:
        return bool(self.hits)

    @property
    def not_heard(self) -> bool:
        """The question is about heard material but nothing heard answers it."""
        return self.refers_to_heard and not self.hits

    def quote_reply(self) -> str | None:
        """A spoken answer that quotes the best evidence, or says nothing relevant was heard."""
        if self.not_heard:
            return NOT_HEARD_REPLY
        if not self.hits:
            return None
        seg = self.hits[0].segment
        parts = [seg]
        if self.follow is not None and len(seg.text.split()) + len(self.follow.text.split()) <= MAX_QUOTE_WORDS:
            parts = sorted([seg, self.follow], key=lambda p: p.start_s)
        seg = parts[0]
        quote = " ".join(p.text.strip() for p in parts).strip().strip('"')
        if quote and quote[-1] not in ".!?":
            quote += "."
        label = self.labels.get(seg.recording_id, "the recording")
        who = f"{seg.speaker} said" if seg.speaker else "I heard"
        return f"In {label}, {spoken_time(seg.start_s)}, {who}: \"{quote}\""

    def prompt_note(self) -> str:
        """Evidence for a language model's system prompt (empty when there is none)."""
        if self.hits:
            lines = [
                f"From {self.labels.get(h.segment.recording_id, 'the recording')} you heard "
                f"(at {clock_time(h.segment.start_s)}): '{h.segment.text}'"
                for h in self.hits
            ]
            return (
                "Audio you listened to earlier (not said to you). Answer from it, quoting it:\n"
                + "\n".join(lines)
            )
        if self.not_heard:
            return (
                "Nothing in the audio you listened to is about this question: "
                "say that you did not hear that in the recording."
            )
        return ""

    def to_json(self) -> dict:
        best = self.best
        return {
            "refers_to_heard": self.refers_to_heard,
            "relevant": self.relevant,
            "not_heard": self.not_heard,
            "best_score": round(best.score, 4) if best else None,
            "best_at_s": best.segment.start_s if best else None,
            "evidence": [
                {"recording": h.segment.recording_id, "at_s": h.segment.start_s, "score": round(h.score, 4),
                 "cosine": round(h.cosine, 4), "overlap": round(h.overlap, 4), "text": h.segment.text}
                for h in self.hits
            ],
        }


class HeardStore:
    """All heard recordings of one conversation, as searchable time-stamped sentences.

    Thread-safe: sentences are embedded and added from worker threads while questions are
    searched on others. Embedding uses the process-wide MiniLM (injected, or its ``shared()``).
    """

    def __init__(
        self,
        embedder: TextEmbedder | None = None,
        *,
        floor: float = RELEVANCE_FLOOR,
        lexical_weight: float = LEXICAL_WEIGHT,
        max_segments: int = MAX_SEGMENTS,
    ) -> None:
        self._embedder = embedder
        self.floor = floor
        self.lexical_weight = lexical_weight
        self.max_segments = max_segments
        self.recordings: list[HeardRecording] = []
        self._segments: list[HeardSegment] = []
        self._words: list[set[str]] = []
        self._vectors: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()

    # -- building ------------------------------------------------------------------------------

    @property
    def embedder(self) -> TextEmbedder:
        if self._embedder is None:
            from chimein.policy.embedding import TextEmbedder

            self._embedder = TextEmbedder.shared()
        return self._embedder

    def start_recording(self, source: str, *, heard_at_s: float, duration_s: float | None = None) -> HeardRecording:
        with self._lock:
            rec = HeardRecording(id=len(self.recordings) + 1, source=source, heard_at_s=heard_at_s, duration_s=duration_s)
            self.recordings.append(rec)
            self._relabel()
            return rec

    def _relabel(self) -> None:
        if len(self.recordings) == 1:
            self.recordings[0].label = "the recording"
            return
        for i, rec in enumerate(self.recordings):
            nth = _ORDINALS[i] if i < len(_ORDINALS) else f"number {i + 1}"
            rec.label = f"the {nth} recording"

    def recording(self, recording_id: int) -> HeardRecording:
        return self.recordings[recording_id - 1]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """MiniLM vectors (blocking; call from a worker thread for many sentences)."""
        return self.embedder.embed(list(texts)) if texts else np.zeros((0, 384), np.float32)

    def add_sentences(
        self, recording_id: int, sentences: Sequence[HeardSentence], vectors: np.ndarray | None = None,
        *, speaker: str | None = None,
    ) -> list[HeardSegment]:
        """Store a recording's sentences (embedding them unless ``vectors`` are given)."""
        sentences = [s for s in sentences if s.text.strip()]
        if not sentences:
            return []
        if vectors is None:
            vectors = self.embed([s.text for s in sentences])
        segs = [HeardSegment(recording_id, s.start_s, s.end_s, s.text.strip(), speaker) for s in sentences]
        with self._lock:
            self._segments.extend(segs)
            self._words.extend(content_words(s.text) for s in segs)
            self._vectors.extend(np.asarray(v, np.float32) for v in vectors)
            overflow = len(self._segments) - self.max_segments
            if overflow > 0:
                del self._segments[:overflow], self._words[:overflow], self._vectors[:overflow]
            self._matrix = None
        return segs

    def finish_recording(self, recording_id: int, *, duration_s: float | None = None) -> None:
        with self._lock:
            rec = self.recording(recording_id)
            rec.complete = True
            if duration_s is not None:
                rec.duration_s = duration_s

    def segments(self, recording_id: int | None = None) -> list[HeardSegment]:
        """Sentences in recording order (windows may finish out of order)."""
        with self._lock:
            picked = [s for s in self._segments if recording_id is None or s.recording_id == recording_id]
        return sorted(picked, key=lambda s: (s.recording_id, s.start_s))

    def transcript(self, recording_id: int) -> str:
        return " ".join(s.text for s in self.segments(recording_id))

    def __len__(self) -> int:
        return len(self._segments)

    # -- searching -----------------------------------------------------------------------------

    def search(self, question: str, *, k: int = MAX_EVIDENCE) -> list[Hit]:
        """The k best sentences for a question, best first, whatever their score."""
        with self._lock:
            if not self._segments:
                return []
            if self._matrix is None:
                self._matrix = np.stack(self._vectors)
            matrix, segments, words = self._matrix, list(self._segments), list(self._words)
        q = self.embed([question])[0]
        cosines = matrix @ q
        q_words = content_words(question)
        hits = []
        for i, seg in enumerate(segments):
            overlap = len(q_words & words[i]) / len(q_words) if q_words else 0.0
            score = float(cosines[i]) + self.lexical_weight * overlap
            hits.append(Hit(seg, score, float(cosines[i]), overlap))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def ground(self, question: str) -> Grounding:
        """Evidence for a question, and whether it points at heard material at all."""
        top = self.search(question)
        hits = tuple(h for h in top if self.is_evidence(question, h))
        follow = None
        if len(hits) > 1 and hits[1].segment.recording_id == hits[0].segment.recording_id:
            follow = hits[1].segment  # two sentences of evidence: quote both
        elif hits and len(hits[0].segment.text.split()) < SHORT_QUOTE_WORDS:
            follow = self._next_segment(hits[0].segment)
        labels = {r.id: r.label for r in self.recordings}
        return Grounding(
            question=question,
            hits=hits,
            best=top[0] if top else None,
            refers_to_heard=bool(self.recordings) and refers_to_heard(question, self.vocabulary()),
            labels=labels,
            follow=follow,
        )

    def vocabulary(self) -> set[str]:
        """Content words of everything heard (stemmed)."""
        with self._lock:
            return set().union(*self._words) if self._words else set()

    def is_evidence(self, question: str, hit: Hit) -> bool:
        """Above the floor, or holding every content word of the question; and of the right type."""
        if hit.score < self.floor and not (hit.overlap >= 1.0 and ALL_WORDS_RULE):
            return False
        return answer_type_fits(question, hit.segment.text)

    def _next_segment(self, seg: HeardSegment) -> HeardSegment | None:
        """The sentence after ``seg`` in the same recording, if any."""
        later = [s for s in self.segments(seg.recording_id) if s.start_s > seg.start_s]
        return later[0] if later else None

    # -- notes -----------------------------------------------------------------------------------

    def note(self, recording_id: int, *, max_words: int = 30) -> str:
        """A compact note: what, when, how long, and how it began (survives context compression)."""
        rec = self.recording(recording_id)
        words = self.transcript(recording_id).split()
        gist = " ".join(words[:max_words]) + (" ..." if len(words) > max_words else "")
        length = f", {round(rec.duration_s)} s long" if rec.duration_s else ""
        state = "" if rec.complete else " (still being transcribed)"
        where = "played into the microphone" if rec.source == "microphone" else "sent as a file"
        body = f": '{gist}'" if gist else ": no speech in it"
        return f"{rec.label.capitalize()} ({where}{length}){state}{body}"

    # -- snapshot (session resumption on another replica) ---------------------------------------

    def to_snapshot(self) -> dict[str, Any]:
        """JSON-ready copy: recordings, sentences and their MiniLM vectors (base64 float32, so a
        replica that resumes the conversation need not embed them again)."""
        with self._lock:
            vectors = np.stack(self._vectors).astype("<f4") if self._vectors else np.zeros((0, 0), "<f4")
            return {
                "recordings": [asdict(r) for r in self.recordings],
                "segments": [[s.recording_id, s.start_s, s.end_s, s.text, s.speaker] for s in self._segments],
                "vector_dim": int(vectors.shape[1]) if len(vectors) else 0,
                "vectors": base64.b64encode(vectors.tobytes()).decode("ascii"),
            }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any], embedder: TextEmbedder | None = None) -> HeardStore:
        """The store :meth:`to_snapshot` described (raises ValueError on a malformed snapshot)."""
        store = cls(embedder)
        store.recordings = [HeardRecording(**r) for r in data.get("recordings", [])]
        segments = [HeardSegment(int(r), float(a), float(b), str(t), sp) for r, a, b, t, sp in data.get("segments", [])]
        raw = base64.b64decode(data.get("vectors", ""))
        dim = int(data.get("vector_dim", 0))
        vectors = np.frombuffer(raw, "<f4").reshape(-1, dim) if dim else np.zeros((0, 0), np.float32)
        if len(vectors) != len(segments):
            raise ValueError(f"heard snapshot: {len(segments)} sentences but {len(vectors)} vectors")
        store._segments = segments
        store._words = [content_words(s.text) for s in segments]
        store._vectors = [v.astype(np.float32) for v in vectors]
        return store
