"""The WER helper the tests and the benchmark share."""

from __future__ import annotations

import pytest

from chimein.perception.wer import normalize_text, number_to_words, word_error_rate, word_errors


def test_normalisation_ignores_case_punctuation_and_number_form():
    assert normalize_text("For the 20th time, Mr. Dashwood's cold-hearted 1,000!") == (
        "for the twentieth time mister dashwoods cold hearted one thousand".split()
    )
    assert word_error_rate("go forward ten meters", "Go forward 10 meters.") == 0.0
    assert word_error_rate("seven of hearts", "7 of hearts") == 0.0


@pytest.mark.parametrize(
    "n,words",
    [(0, "zero"), (13, "thirteen"), (40, "forty"), (105, "one hundred five"), (1961, "one thousand nine hundred sixty one"),
     (2_000_003, "two million three")],
)
def test_number_to_words(n, words):
    assert number_to_words(n) == words


def test_edit_operations_are_counted():
    assert word_errors("a b c d", "a x c d") == (1, 4)  # substitution
    assert word_errors("a b c d", "a c d") == (1, 4)  # deletion
    assert word_errors("a b c d", "a b b c d") == (1, 4)  # insertion
    assert word_error_rate("a b", "c d e f") == 2.0  # can exceed 1
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "hello") == 1.0
