"""Spoken-text shaping: markdown removal, the streaming filter and the clause splitter (pure text)."""

from __future__ import annotations

import pytest

from chimein.generation.text import ClauseSplitter, SpokenStream, count_words, strip_markdown


def split_stream(text: str, *, step: int = 3, max_sentences: int = 2) -> tuple[list[tuple[int, str]], bool]:
    """Feed ``text`` in ``step``-character deltas; return (characters fed when each clause came out, done)."""
    splitter = ClauseSplitter(max_sentences)
    out: list[tuple[int, str]] = []
    for i in range(0, len(text), step):
        out += [(i + step, c) for c in splitter.feed(text[i : i + step])]
    out += [(len(text), c) for c in splitter.flush()]
    return out, splitter.done


def test_strip_markdown_keeps_the_words_only():
    text = (
        "# Title\n\n- **bold** and _it_ and `code` [the docs](http://x.y/z) snake_case 25 °C 😀👍🏽\n"
        "```python\nprint(1)\n```\n1. End"
    )
    assert strip_markdown(text) == "Title\nbold and it and code the docs snake_case 25 °C\nEnd"


def test_strip_markdown_leaves_plain_text_alone():
    plain = "It costs $3.50, about 20% less than 1,000 yen: a bargain!"
    assert strip_markdown(plain) == plain


def test_first_clause_comes_out_at_a_comma_before_the_sentence_ends():
    text = "Yes, Paris is the capital of France, and it is lovely. It has the Eiffel Tower. More."
    clauses, done = split_stream(text)
    assert [c for _, c in clauses] == [
        "Yes, Paris is the capital of France,",
        "and it is lovely.",
        "It has the Eiffel Tower.",
    ]
    # released as soon as the space after the comma arrived, long before the sentence ended
    assert clauses[0][0] <= text.index("France,") + len("France, ") + 3
    assert done


def test_short_opening_words_are_not_a_clause():
    clauses, _ = split_stream("Yes, it is. Sure.")
    assert [c for _, c in clauses] == ["Yes, it is.", "Sure."]


def test_later_clauses_wait_for_the_sentence_end():
    text = "The oven is hot, so be careful. Then, after ten minutes, take the bread out, and let it cool."
    clauses, _ = split_stream(text, max_sentences=3)
    assert [c for _, c in clauses] == [
        "The oven is hot,",
        "so be careful.",
        "Then, after ten minutes, take the bread out, and let it cool.",
    ]


def test_numbers_abbreviations_and_initials_do_not_end_sentences():
    text = "Dr. Smith paid 1,000 dollars at 3:30 p.m. in St. Louis to J. Jones. He is 3.5 m tall!"
    clauses, _ = split_stream(text, max_sentences=5)
    assert [c for _, c in clauses] == [
        "Dr. Smith paid 1,000 dollars",  # the first clause, cut before a preposition
        "at 3:30 p.m. in St. Louis to J. Jones.",
        "He is 3.5 m tall!",
    ]


def test_a_long_first_sentence_without_commas_is_cut_at_a_phrase_boundary():
    # before a conjunction once four words are out
    clauses, _ = split_stream("The bread is ready when the crust sounds hollow. Enjoy it.")
    assert [c for _, c in clauses] == ["The bread is ready", "when the crust sounds hollow.", "Enjoy it."]
    # before a preposition from the sixth word on, not earlier
    clauses, _ = split_stream("You can store fresh basil in a glass of water. Yes.")
    assert [c for _, c in clauses][0] == "You can store fresh basil"
    clauses, _ = split_stream("Put it in the oven for twenty minutes. Yes.")
    assert [c for _, c in clauses][0] == "Put it in the oven"  # not before the early "in"
    # seven words with no boundary: cut there rather than wait for the sentence
    clauses, _ = split_stream("The tallest mountain anyone has ever climbed really is Mount Everest indeed. Yes.")
    assert [c for _, c in clauses][:2] == ["The tallest mountain anyone has ever climbed",
                                           "really is Mount Everest indeed."]
    # a word still being written is not cut
    splitter = ClauseSplitter()
    assert splitter.feed("One two three four five six seven eight") == ["One two three four five six seven"]
    # a sentence that ends before any boundary is one clause
    clauses, _ = split_stream("Water boils at one hundred degrees. Yes.")
    assert [c for _, c in clauses] == ["Water boils at one hundred degrees.", "Yes."]


def test_cap_at_max_sentences_sets_done_and_drops_the_rest():
    splitter = ClauseSplitter(max_sentences=1)
    out = splitter.feed("It is sunny today. ")
    assert out == ["It is sunny today."]
    assert splitter.done
    assert splitter.feed("Tomorrow it rains. ") == []
    assert splitter.flush() == []


def test_markdown_lists_become_sentences_without_markers():
    clauses, done = split_stream(
        "**Sure!** Here is a list:\n1. First *item*\n2. Second item\n3. Third", max_sentences=4
    )
    assert [c for _, c in clauses] == ["Sure!", "Here is a list:", "First item", "Second item"]
    assert done


def test_flush_returns_an_unpunctuated_tail():
    clauses, done = split_stream("The answer is 42")
    assert clauses == [(16, "The answer is 42")]
    assert done


def test_emoji_only_text_yields_nothing():
    clauses, _ = split_stream("😀 👍 🎉")
    assert clauses == []


def test_code_blocks_are_not_spoken():
    clauses, _ = split_stream("Run this:\n```\nrm -rf build\n```\nThat cleans it. Done.", max_sentences=5)
    assert [c for _, c in clauses] == ["Run this:", "That cleans it.", "Done."]


def test_invalid_cap_is_rejected():
    with pytest.raises(ValueError):
        ClauseSplitter(0)


def test_count_words_ignores_punctuation_tokens():
    assert count_words("Well — I think, yes!") == 4


def stream(text: str, max_sentences: int | None, step: int = 2) -> tuple[list[str], bool]:
    shaper = SpokenStream(max_sentences)
    out = []
    for i in range(0, len(text), step):
        out.append(shaper.feed(text[i : i + step]))
        if shaper.done:
            break
    out.append(shaper.flush())
    return [o for o in out if o], shaper.done


def test_spoken_stream_removes_markdown_as_it_streams():
    pieces, _ = stream("# Tips\n- **Boil** the [water](http://a.b/c_d) 😀 first_step ~~now~~\n", None)
    assert "".join(pieces) == "Tips\nBoil the water first_step now\n"
    assert len(pieces) > 5  # it really streams


def test_spoken_stream_stops_after_max_sentences():
    pieces, done = stream("Dr. Who is 3.5 m tall. He likes tea! He also likes cake.", 2)
    assert "".join(pieces) == "Dr. Who is 3.5 m tall. He likes tea!"
    assert done


def test_spoken_stream_keeps_signed_numbers_and_years_at_line_start():
    pieces, _ = stream("-5 degrees is cold.\n1990 was a year.", None)
    assert "".join(pieces) == "-5 degrees is cold.\n1990 was a year."
