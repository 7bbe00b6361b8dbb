"""Word error rate with a small English normaliser, shared by the tests and the benchmark.

The normaliser makes a recogniser's written form comparable with a spoken-form reference:
case, punctuation, hyphens and apostrophes are removed, "Mr."/"Mrs."/"Dr." are spelled out,
and digits become words ("20th" -> "twentieth", "1,000" -> "one thousand"). It is
deliberately small; scores from it are comparable with each other, not with published WERs.
"""

from __future__ import annotations

import re

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_IRREGULAR = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "vs": "versus"}
_NUMBER = re.compile(r"^(\d+)(st|nd|rd|th|s)?$")


def number_to_words(n: int) -> str:
    """Cardinal English words for 0 <= n < 10**12 ("one hundred twenty three")."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_to_words(rest))
    for scale, name in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return number_to_words(high) + " " + name + ("" if rest == 0 else " " + number_to_words(rest))
    raise AssertionError("unreachable")


def _ordinal(words: str) -> str:
    head, _, last = words.rpartition(" ")
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}".strip()


def normalize_text(text: str) -> list[str]:
    """Lower-case words with punctuation removed and numbers spelled out."""
    text = text.lower().replace("\u2019", "'").replace("&", " and ").replace("%", " percent ")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000 -> 1000
    text = re.sub(r"(?<=\d)\.(?=\d)", " point ", text)  # 2.5 -> 2 point 5
    text = re.sub(r"[-\u2013\u2014/]", " ", text)
    words: list[str] = []
    for token in text.split():
        token = re.sub(r"[^\w']", "", token).replace("'", "")
        if not token:
            continue
        token = _ABBREVIATIONS.get(token, token)
        match = _NUMBER.match(token)
        if match and len(match.group(1)) <= 12:
            spoken = number_to_words(int(match.group(1)))
            suffix = match.group(2)
            if suffix in ("st", "nd", "rd", "th"):
                spoken = _ordinal(spoken)
            elif suffix == "s":  # 1960s -> nineteen sixties is beyond us: keep it countable
                spoken += "s"
            words.extend(spoken.split())
        else:
            words.extend(re.findall(r"[a-z0-9]+", token) or [token])
    return words


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference word count) after normalisation.

    Sum both over a corpus and divide for a corpus-level WER.
    """
    ref = normalize_text(reference)
    hyp = normalize_text(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1], len(ref)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Edit distance over normalised words / reference words (0.0 = perfect; may exceed 1.0).

    An empty reference scores 0.0 against an empty hypothesis and 1.0 against anything else.
    """
    errors, n = word_errors(reference, hypothesis)
    if n == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / n
