"""Shaping language-model text into speech: markdown removal and early clause cutting.

The synthesiser can start as soon as it has a speakable piece of text, so the first piece is cut at
the first comma-like pause once it holds a few words; later pieces are cut at sentence ends, which
gives the voice natural prosody. Markdown, emoji and list markers are never spoken.
"""

from __future__ import annotations

import re

__all__ = ["ClauseSplitter", "SpokenStream", "count_words", "strip_markdown"]

# Emoji and pictographs (plus the joiners and modifiers that glue them together). Symbols people
# read aloud, such as "°" or "%", are outside these ranges.
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # mahjong .. symbols & pictographs extended-A
    "\u2600-\u27bf"  # misc symbols, dingbats
    "\u2b00-\u2bff"  # arrows, stars
    "\u2190-\u21ff"  # arrows
    "\ufe0e\ufe0f"  # variation selectors
    "\u200d"  # zero-width joiner
    "\U000e0020-\U000e007f"  # tag characters (flags)
    "]+"
)
_FENCED_CODE = re.compile(r"```.*?(```|$)", re.DOTALL)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]*", re.MULTILINE)
_QUOTE = re.compile(r"^[ \t]*>+[ \t]?", re.MULTILINE)
_BULLET = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]+", re.MULTILINE)
_RULE = re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.MULTILINE)
_TABLE_SEP = re.compile(r"^[ \t]*\|?[ \t]*:?-{2,}.*$", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_STRAY_MARKS = re.compile(r"\*+|~~|`+|(?<!\w)_+|_+(?!\w)|^#+|\|")
_SPACES = re.compile(r"[ \t\r\f\v]+")


def strip_markdown(text: str) -> str:
    """Text as a person would read it aloud: no markdown syntax, emoji, code blocks or HTML tags.

    Line breaks are kept (as single newlines) because they separate list items and headings,
    which the clause splitter treats as sentence ends.
    """
    text = _FENCED_CODE.sub(" ", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _RULE.sub("", text)
    text = _TABLE_SEP.sub("", text)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub("", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    for _ in range(2):  # nested emphasis such as ***x*** or **_x_**
        text = _EMPHASIS.sub(r"\2", text)
    text = _STRAY_MARKS.sub("", text)
    text = _EMOJI.sub(" ", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def count_words(text: str) -> int:
    """Words that carry letters or digits (punctuation-only tokens do not count)."""
    return sum(1 for w in text.split() if any(c.isalnum() for c in w))


# A sentence end: terminal punctuation, optional closing quotes/brackets, then whitespace.
_SENTENCE_END = re.compile(r"[.!?…]+[\"”’')\]*_`]*(?=\s)")
# A clause pause: comma-like punctuation then whitespace (so "1,000" and "3:30" are not cut).
_CLAUSE_END = re.compile(r"[,;:—–]+[\"”’')\]*_`]*(?=\s)|[—–](?=\S)")
_LINE_END = re.compile(r"\n")
# A word followed by whitespace: complete (the model will not extend it).
_COMPLETE_WORD = re.compile(r"\S+(?=\s)")
# Words a spoken phrase can start with: a first clause without punctuation is cut before one.
_CONJUNCTIONS = frozenset(
    "and but or so because which while when where whereas if although though since unless until then"
    .split())
_PHRASE_STARTS = _CONJUNCTIONS | frozenset(
    "in on at for with from by into over under after before during without through".split())
# Words whose trailing period is not a sentence end.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e a.m p.m approx dept est fig inc ltd no vol".split()
)


def _is_false_sentence_end(text: str, match: re.Match[str]) -> bool:
    """True for a period after an abbreviation or an initial ("Dr. Smith", "J. Smith"), or a list number."""
    if set(match.group()) & set("!?…"):
        return False
    end = match.end()
    start = max(text.rfind(" ", 0, end), text.rfind("\n", 0, end)) + 1
    word = text[start:end].rstrip(".\"”’')]*_`").lstrip("(\"“'‘*_`").lower()
    if word in _ABBREVIATIONS:
        return True
    if len(word) == 1 and word.isalpha():
        return True
    # "1." at the start of a line is a list marker, not a sentence.
    line_start = text.rfind("\n", 0, end) + 1
    return word.isdigit() and not text[line_start:start].strip()


class ClauseSplitter:
    """Turns a stream of LLM text deltas into speakable clauses, as early as prosody allows.

    The first clause is released at a comma, semicolon, colon or dash once it holds at least
    ``min_first_clause_words`` words, or at a phrase boundary when the sentence runs on without
    one (the voice can start while the model is still writing);
    later clauses are released at sentence ends. Line breaks count as sentence ends (list items,
    headings). After ``max_sentences`` sentences ``done`` turns true and the rest is ignored:
    the caller should cancel the language model.
    """

    def __init__(self, max_sentences: int = 2, *, min_first_clause_words: int = 4, phrase_words: int = 5,
                 max_first_clause_words: int = 7) -> None:
        if max_sentences < 1:
            raise ValueError("max_sentences must be at least 1")
        self.max_sentences = max_sentences
        self.min_first_clause_words = min_first_clause_words
        self.phrase_words = max(phrase_words, min_first_clause_words)
        self.max_first_clause_words = max(max_first_clause_words, min_first_clause_words)
        self._buffer = ""
        self._sentences = 0
        self._clauses = 0
        self._done = False

    @property
    def done(self) -> bool:
        """The sentence cap is reached: nothing more will be yielded."""
        return self._done

    def feed(self, delta: str) -> list[str]:
        """Add a text delta; return the clauses that became complete (often none)."""
        if self._done or not delta:
            return []
        self._buffer += delta
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """The model finished: return whatever speakable text is left."""
        if self._done:
            return []
        out = self._drain(final=True)
        rest = self._clean(self._buffer)
        self._buffer = ""
        if rest:
            out.append(rest)
            self._count_sentence()
        self._done = True
        return out

    # -- internals --------------------------------------------------------------------------
    def _clean(self, raw: str) -> str:
        return " ".join(strip_markdown(raw).split())

    def _count_sentence(self) -> None:
        self._sentences += 1
        if self._sentences >= self.max_sentences:
            self._done = True

    def _drain(self, *, final: bool) -> list[str]:
        out: list[str] = []
        while not self._done:
            cut = self._next_cut(final=final)
            if cut is None:
                break
            end, is_sentence = cut
            piece = self._clean(self._buffer[:end])
            self._buffer = self._buffer[end:].lstrip(" \t")
            if piece:
                out.append(piece)
                self._clauses += 1
                if is_sentence:
                    self._count_sentence()
        return out

    def _next_cut(self, *, final: bool) -> tuple[int, bool] | None:
        """(end index in the buffer, whether it ends a sentence) of the next releasable piece."""
        text = self._buffer
        if text.count("```") % 2 == 1:  # inside a code block: wait for it to close
            return None
        sentence_end = self._first_sentence_end(text, final=final)
        if self._clauses == 0:
            limit = sentence_end[0] if sentence_end else len(text)
            for m in _CLAUSE_END.finditer(text, 0, limit):
                if count_words(self._clean(text[: m.end()])) >= self.min_first_clause_words:
                    return m.end(), False
            phrase = self._phrase_cut(text, limit)
            if phrase is not None:
                return phrase, False
        return sentence_end

    def _phrase_cut(self, text: str, limit: int) -> int | None:
        """Where a long first clause without punctuation may still be cut (#12): before a
        conjunction once ``min_first_clause_words`` words are out, before a preposition from
        ``phrase_words`` on, and after ``max_first_clause_words`` words whatever follows. The
        voice starts on a few words instead of a whole sentence (Piper's time grows with length)."""
        words = [m for m in _COMPLETE_WORD.finditer(text, 0, limit) if any(c.isalnum() for c in m.group())]
        for i, word in enumerate(words[1:], start=1):
            bare = word.group().strip("\"“”'‘’()*_`").lower()
            if (i >= self.min_first_clause_words and bare in _CONJUNCTIONS) or (
                    i >= self.phrase_words and bare in _PHRASE_STARTS):
                return words[i - 1].end()
        if len(words) >= self.max_first_clause_words:
            return words[self.max_first_clause_words - 1].end()
        return None

    def _first_sentence_end(self, text: str, *, final: bool) -> tuple[int, bool] | None:
        candidates: list[int] = []
        for m in _SENTENCE_END.finditer(text):
            if not _is_false_sentence_end(text, m):
                candidates.append(m.end())
                break
        for m in _LINE_END.finditer(text):
            if self._clean(text[: m.start()]):  # a line break after speakable text
                candidates.append(m.start())
                break
            # a line with nothing speakable (blank, a rule, a code fence): drop it
        if final and text.rstrip().endswith((".", "!", "?", "…")):
            candidates.append(len(text.rstrip()))
        if not candidates:
            return None
        return min(candidates), True


_TRAILING_SENTENCE_END = re.compile(r"[.!?…]+[\"”’')\]]*\Z")
# At the start of a line: a heading, quote, bullet or list number (with its trailing space).
_LINE_MARKER = re.compile(r"[ \t]*(?:#{1,6}[ \t]*|>+[ \t]?|(?:[-*+•]|\d{1,3}[.)])[ \t]+)")
# What could still grow into a line marker if more text arrives.
_PARTIAL_LINE_MARKER = re.compile(r"[ \t]*(?:#*|>*|[-*+•]|\d{1,3}[.)]?)\Z")


class SpokenStream:
    """Cleans LLM deltas as they stream, for text that will be spoken and shown as a transcript.

    Markdown syntax (emphasis, headings, bullets, list numbers, code ticks, links' URLs) and emoji
    are dropped character by character, holding back only the one or two characters whose meaning
    depends on what follows. When ``max_sentences`` sentences are complete (known when the
    whitespace after the final punctuation arrives), ``done`` turns true and nothing more is
    emitted: the caller stops generating.
    """

    def __init__(self, max_sentences: int | None = 2) -> None:
        self.max_sentences = max_sentences
        self._out = ""
        self._hold = ""
        self._line_start = True
        self._skip_url = False
        self._sentences = 0
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    @property
    def text(self) -> str:
        """Everything emitted so far."""
        return self._out

    def feed(self, delta: str) -> str:
        """Add a raw delta; return the cleaned text that can be passed on now (possibly "")."""
        if self._done:
            return ""
        return self._process(self._hold + delta, final=False)

    def flush(self) -> str:
        """The stream ended: return the held-back characters that turned out to be text."""
        if self._done:
            return ""
        out = self._process(self._hold, final=True)
        self._done = True
        return out

    def _process(self, raw: str, *, final: bool) -> str:
        self._hold = ""
        start = len(self._out)
        i, n = 0, len(raw)
        while i < n and not self._done:
            c = raw[i]
            if self._skip_url:
                self._skip_url = c != ")"
                i += 1
                continue
            if self._line_start:
                m = _LINE_MARKER.match(raw, i)
                if m:
                    i = m.end()
                    self._line_start = False
                    continue
                if not final and _PARTIAL_LINE_MARKER.match(raw, i):
                    self._hold = raw[i:]
                    break
                self._line_start = False
                if final and _PARTIAL_LINE_MARKER.match(raw, i) and not raw[i:].strip().isdigit():
                    break  # a dangling "-" or "#" at the very end
            nxt = raw[i + 1] if i + 1 < n else None
            if nxt is None and not final and c in "_]~":
                self._hold = raw[i:]
                break
            if c == "\n":
                self._emit_space("\n")
                self._line_start = True
            elif c.isspace():
                self._emit_space(" ")
            elif c in "*`[" or _EMOJI.match(c):
                pass
            elif c == "|":
                self._emit_space(" ")
            elif c == "~":
                if nxt == "~":
                    i += 1
                else:
                    self._out += c
            elif c == "_":
                if self._out[-1:].isalnum() and nxt is not None and nxt.isalnum():
                    self._out += c
            elif c == "]":
                if nxt == "(":
                    self._skip_url = True
                    i += 1
            else:
                self._out += c
            i += 1
        return self._out[start:]

    def _emit_space(self, space: str) -> None:
        """Emit a space or line break, counting a sentence that it completes."""
        if not self._out or self._out[-1] in " \n":
            if space == "\n" and self._out and self._out[-1] == " ":
                self._out = self._out[:-1] + "\n"
            return
        m = _TRAILING_SENTENCE_END.search(self._out)
        ends_sentence = space == "\n" or (m is not None and not _is_false_sentence_end(self._out + " ", m))
        if ends_sentence:
            self._sentences += 1
            if self.max_sentences is not None and self._sentences >= self.max_sentences:
                self._done = True
                return
        self._out += space
