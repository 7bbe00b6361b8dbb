"""ProactivityPolicy end to end on text: the guide's dialogue and one test per rule."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from chimein.policy.embedding import TextEmbedder
from chimein.policy.proactivity import RULES, TOPIC_THRESHOLD, Decision, ProactivityPolicy, Turn

GUIDE = "You are an AI assistant in Italian cooking; only chime in when the topic is about Italian cooking."


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return TextEmbedder.shared()


@pytest.fixture(scope="module")
def cooking(embedder: TextEmbedder) -> ProactivityPolicy:
    return ProactivityPolicy(GUIDE, embedder=embedder)


def test_the_guides_dialogue(cooking: ProactivityPolicy) -> None:
    """The Proactive Audio guide: silent, silent, answers."""
    history: list[Turn] = []
    lines = [
        ("A", "I really love cooking!", False),
        ("B", "Oh yes, me too! My favorite is French cuisine.", False),
        ("A", "I really like Italian food; do you know how to make a pizza?", True),
    ]
    for speaker, text, answer in lines:
        decision = cooking.decide(text, history)
        assert decision.answer is answer, (text, decision)
        history.append(Turn(speaker, text))
    assert decision.rule == "topic"
    assert decision.scores["relevance"] >= TOPIC_THRESHOLD
    assert "Italian cooking" in decision.reason


def test_follow_up_after_an_on_topic_answer(cooking: ProactivityPolicy) -> None:
    context = [
        Turn("A", "I really like Italian food; do you know how to make a pizza?"),
        Turn("assistant", "Sure! Make a dough of flour, water, yeast and salt, let it rise, then add tomato and mozzarella."),
    ]
    decision = cooking.decide("And how long in the oven?", context)
    assert decision.answer and decision.rule == "follow_up"
    assert decision.scores["after_assistant"] == 1.0


def test_off_topic_request_right_after_an_answer_stays_silent(cooking: ProactivityPolicy) -> None:
    context = [Turn("A", "How do I make fresh pasta?"), Turn("assistant", "Flour, eggs, knead ten minutes, rest.")]
    decision = cooking.decide("Can you turn the music down a bit?", context)
    assert not decision.answer and decision.rule == "off_topic"


def test_question_to_a_person_is_not_a_request(cooking: ProactivityPolicy) -> None:
    decision = cooking.decide("Maria, do you want pizza tonight?")
    assert not decision.answer
    assert decision.rule == "addressed_to_person"
    assert decision.scores["addressed_to_person"] == 1.0
    assert "Maria" in decision.reason


def test_off_topic_request(cooking: ProactivityPolicy) -> None:
    decision = cooking.decide("Can you remind me to call the dentist tomorrow?")
    assert not decision.answer and decision.rule == "off_topic"
    assert decision.scores["relevance"] < TOPIC_THRESHOLD
    assert decision.reason.startswith("stayed silent: off-topic, relevance")


def test_on_topic_statement_between_people_stays_silent(cooking: ProactivityPolicy) -> None:
    decision = cooking.decide("Grandma's lasagna was amazing at Christmas.")
    assert not decision.answer and decision.rule == "not_addressed"


def test_topic_without_punctuation(cooking: ProactivityPolicy) -> None:
    decision = cooking.decide("my carbonara always turns into scrambled eggs how do I stop that")
    assert decision.answer and decision.rule == "topic"


def test_name_gating() -> None:
    policy = ProactivityPolicy("Your name is Nova. Only respond when someone addresses you by name.")
    called = policy.decide("Nova, turn on the lights.")
    assert called.answer and called.rule == "name"
    assert called.scores["addressed_to_assistant"] == 1.0
    mentioned = policy.decide("Nova and her brother went out to the park.")
    assert not mentioned.answer and mentioned.rule == "not_addressed"
    assert "mentioned" in mentioned.reason
    assert not policy.decide("Turn on the lights.").answer


def test_wake_phrase() -> None:
    policy = ProactivityPolicy("You are a kitchen helper. Only respond when someone says 'hey chef'.")
    for text in ("hey chef, how long do I roast a chicken?", "Hey, Chef! Convert 200 grams of flour to cups."):
        decision = policy.decide(text)
        assert decision.answer and decision.rule == "wake_phrase", text
    assert not policy.decide("How long do I roast a chicken?").answer
    passing = policy.decide("She always says hey chef when she walks into the kitchen.")
    assert not passing.answer and "in passing" in passing.reason


def test_only_when_asked_directly() -> None:
    policy = ProactivityPolicy("Only speak when you are asked a question directly.")
    asked = policy.decide("Who wrote Pride and Prejudice?")
    assert asked.answer and asked.rule == "addressed_request"
    assert not policy.decide("I can't remember who wrote Pride and Prejudice.").answer  # musing
    assert not policy.decide("Emma, did you finish your homework?").answer


def test_default_proactive() -> None:
    policy = ProactivityPolicy(None)
    assert policy.rules.is_default
    assert policy.decide("Set a timer for fifteen minutes.").answer
    assert policy.decide("I wonder what the population of Canada is.").answer
    chatter = policy.decide("Pretty good, we went hiking.", [Turn("A", "How was your weekend?")])
    assert not chatter.answer and chatter.rule == "not_addressed"
    assert not policy.decide("Do you want to get tacos?").answer


def test_combination_addressed_or_topic(embedder: TextEmbedder) -> None:
    policy = ProactivityPolicy("Respond when addressed, or when the topic is wine.", embedder=embedder)
    assert policy.decide("Which wine goes well with grilled salmon?").rule == "topic"
    assert policy.decide("Can you tell me a joke?").rule == "addressed_request"
    assert not policy.decide("We had a wonderful Chianti last night.").answer


def test_empty_and_proactivity_off() -> None:
    policy = ProactivityPolicy(GUIDE, embedder=TextEmbedder.shared())
    for text in ("", "  ", "..."):
        decision = policy.decide(text)
        assert not decision.answer and decision.rule == "empty"
    off = ProactivityPolicy(GUIDE, enabled=False)
    decision = off.decide("I really love cooking!")
    assert decision.answer and decision.rule == "proactivity_off"


def test_decision_json_is_machine_readable(cooking: ProactivityPolicy) -> None:
    decision = cooking.decide("How long should I boil fresh tagliatelle?")
    payload = decision.to_json()
    assert json.loads(json.dumps(payload)) == payload
    assert set(payload) == {"answer", "rule", "reason", "scores"}
    assert payload["rule"] in RULES
    assert all(isinstance(v, float) for v in payload["scores"].values())


def test_decide_is_thread_safe(cooking: ProactivityPolicy) -> None:
    texts = [
        "I really like Italian food; do you know how to make a pizza?",
        "Can you remind me to call the dentist tomorrow?",
        "How much stock do I add to risotto at a time?",
        "Maria, do you want pizza tonight?",
    ] * 4
    serial: list[Decision] = [cooking.decide(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(cooking.decide, texts))
    assert [d.rule for d in parallel] == [d.rule for d in serial]
    for a, b in zip(parallel, serial, strict=True):
        assert a.scores == pytest.approx(b.scores, abs=1e-5)


def test_embedder_is_shared_and_normalised(embedder: TextEmbedder) -> None:
    assert TextEmbedder.shared() is embedder
    vectors = embedder.embed(["How do I make a pizza?", "Italian cooking", "The train was late."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # A real model: the pizza question is closer to the topic than the train is.
    assert vectors[0] @ vectors[1] > vectors[2] @ vectors[1] + 0.2
    # Batch and single calls agree (cache and padding do not change a vector).
    again = TextEmbedder().embed(["How do I make a pizza?"])
    assert np.allclose(again[0], vectors[0], atol=1e-4)
    assert embedder.embed([]).shape == (0, 384)


def test_the_guides_dialogue_without_punctuation(cooking: ProactivityPolicy) -> None:
    """A recogniser may drop punctuation and casing; the guide's dialogue still works."""
    history: list[Turn] = []
    for speaker, text, answer in [
        ("A", "i really love cooking", False),
        ("B", "oh yes me too my favorite is french cuisine", False),
        ("A", "i really like italian food do you know how to make a pizza", True),
    ]:
        assert cooking.decide(text, history).answer is answer, text
        history.append(Turn(speaker, text))


def test_a_vague_topic_is_read_with_the_instructions_setting() -> None:
    from chimein.policy.instruction import parse_instruction
    from chimein.policy.proactivity import topic_anchors

    rules = parse_instruction("You're mounted on the wall of a small pottery studio; help the potters with their craft.")
    assert topic_anchors(rules) == ("craft", "You're mounted on the wall of a small pottery studio")
    plain = parse_instruction("Only join in when the topic is astronomy.")
    assert topic_anchors(plain) == ("astronomy",)


def test_a_request_right_after_a_bare_call_is_for_the_assistant(embedder: TextEmbedder) -> None:
    """"Hey Juniper." ... "What's the capital of Peru?": the call and the request can arrive as two
    turns (a pause, or two voice prints that disagree); the request is still the assistant's."""
    wake = ProactivityPolicy("Only respond when someone says 'hey Juniper'.", embedder=embedder)
    called = [Turn("A", "We should book the trip soon."), Turn("B", "Hey Juniper.")]
    decision = wake.decide("What's the capital of Peru?", called)
    assert decision.answer and decision.rule == "wake_phrase" and "right after the assistant was called" in decision.reason
    assert not wake.decide("What's the capital of Peru?", called[:1]).answer
    assert not wake.decide("Tom, can you grab the map?", called).answer  # to someone else
    assert not wake.decide("I love that place.", called).answer  # no request
    named = ProactivityPolicy("Your name is Wren. Only respond when someone addresses you by name.", embedder=embedder)
    assert named.decide("how long do eggs keep", [Turn("A", "Wren?")]).rule == "name"
    # A call that was a request of its own was decided as such: the next line is read on its own.
    assert not named.decide("What about tomorrow?", [Turn("A", "Wren, what's the weather today?")]).answer


@pytest.mark.parametrize(("instruction", "text", "call_only"), [
    ("Respond only when someone says 'OK computer'.", "Ok computer.", True),
    ("Respond only when someone says 'OK computer'.", "OK computer, what is the capital of Australia?", False),
    ("Your name is Juno. Only respond when someone addresses you by name.", "Hey Juno.", True),
    ("Your name is Juno. Only respond when someone addresses you by name.", "Juno?", True),
    ("Your name is Juno. Only respond when someone addresses you by name.", "Hey Juno, I think the oven is done.", False),
    ("Your name is Juno. Only respond when someone addresses you by name.", "Juno, how long do eggs take?", False),
])
def test_a_turn_that_only_calls_the_assistant_says_so(embedder: TextEmbedder, instruction: str, text: str,
                                                      call_only: bool) -> None:
    decision = ProactivityPolicy(instruction, embedder=embedder).decide(text, [])
    assert decision.answer and decision.call_only is call_only
