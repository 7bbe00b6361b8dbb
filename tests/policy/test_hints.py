"""What the recogniser is told to expect: the instruction's names, wake phrases, vocabulary, topics."""

from __future__ import annotations

from chimein.policy.hints import MAX_HINT_CHARS, recognition_hints
from chimein.policy.instruction import parse_instruction


def test_names_wake_phrases_and_topics_become_one_hint_line() -> None:
    rules = parse_instruction("Your name is Nova. Only respond when someone addresses you by name.")
    assert recognition_hints(rules) == "Nova."
    rules = parse_instruction("Respond only when someone says 'OK computer', or when the topic is personal finance.")
    assert recognition_hints(rules) == "Ok computer, personal finance."
    rules = parse_instruction("You are a kitchen helper. Only respond when someone says 'hey chef'.")
    assert recognition_hints(rules, ["Parmigiano", "  ", "hey chef"]) == "Hey chef, Parmigiano."


def test_nothing_to_expect_gives_no_hint() -> None:
    assert recognition_hints(parse_instruction("You are a helpful, friendly assistant.")) is None
    assert recognition_hints(parse_instruction(None)) is None


def test_the_hint_stays_short() -> None:
    rules = parse_instruction("Only chime in when the topic is " + ", ".join(f"subject number {i}" for i in range(60)) + ".")
    hint = recognition_hints(rules)
    assert hint is not None and len(hint) <= MAX_HINT_CHARS + 1
    assert hint.startswith("subject number 0,")
