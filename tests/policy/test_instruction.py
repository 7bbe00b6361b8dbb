"""parse_instruction on the wordings people write for Proactive Audio."""

from __future__ import annotations

import pytest

from chimein.policy.instruction import GatingRules, parse_instruction

# (instruction, topics, names, wake phrases, only_when_addressed, name_required)
WORDINGS = [
    ("You are an AI assistant in Italian cooking; only chime in when the topic is about Italian cooking.",
     ["Italian cooking"], [], [], False, False),
    ("Only talk about medication questions; ignore everything else.", ["medication questions"], [], [], False, False),
    ("You are a sommelier at a dinner party. Chime in only when people ask about wine.", ["wine"], [], [], False, False),
    ("Your name is Nova. Only respond when someone addresses you by name.", [], ["Nova"], [], False, True),
    ("You are a kitchen helper. Only respond when someone says 'hey chef'.", [], [], ["hey chef"], False, False),
    ("Only speak when you are asked a question directly.", [], [], [], True, False),
    ("Respond when addressed, or when the topic is wine.", ["wine"], [], [], True, False),
    ("You are Sage, a gardening expert. Respond when someone addresses you, or when the topic is gardening.",
     ["gardening"], ["Sage"], [], True, False),
    ("Only chime in when the conversation is about flights, hotels or travel plans.",
     ["flights", "hotels", "travel plans"], [], [], False, False),
    ("You are called Jarvis. Stay quiet unless someone calls you Jarvis.", [], ["Jarvis"], [], False, True),
    ("Respond only when someone says 'OK computer', or when the topic is personal finance.",
     ["personal finance"], [], ["ok computer"], False, False),
    ("Only respond when someone says your name. Your name is Nova.", [], ["Nova"], [], False, True),
    ("When the conversation is about wine or cheese, feel free to join in.", ["wine", "cheese"], [], [], False, False),
    ("You're Max. Only answer when people talk to you.", [], ["Max"], [], True, False),
    ("Chime in whenever cooking, recipes, or kitchen tips come up.", ["cooking", "recipes", "kitchen tips"], [], [], False, False),
    ("Stay silent unless the topic is football or basketball.", ["football", "basketball"], [], [], False, False),
    ("Only speak when spoken to.", [], [], [], True, False),
    ('The wake word is "Hey Nova".', [], [], ["hey nova"], False, False),
    ("Only respond when someone says 'Jarvis'.", [], ["Jarvis"], [], False, True),
    ("Listen quietly and only interject if someone asks about train times.", ["train times"], [], [], False, False),
    ("You are a friendly kitchen assistant named Remy.", [], ["Remy"], [], False, False),
    ("Respond only if asked directly.", [], [], [], True, False),
    # Seen in the held-back results (h-atlas): parsed as no wake phrase, so every question was answered.
    ("Listen for the phrase 'hey Atlas' and respond only after someone says it.", [], [], ["hey atlas"], False, False),
    ('Wait for "ok Juno" before you say anything.', [], [], ["ok juno"], False, False),
]


@pytest.mark.parametrize(("text", "topics", "names", "wake", "addressed", "by_name"), WORDINGS, ids=[w[0][:40] for w in WORDINGS])
def test_wordings(text: str, topics: list[str], names: list[str], wake: list[str], addressed: bool, by_name: bool) -> None:
    rules = parse_instruction(text)
    assert list(rules.topics) == topics
    assert list(rules.names) == names
    assert list(rules.wake_phrases) == wake
    assert rules.only_when_addressed is addressed
    assert rules.name_required is by_name
    assert rules.source == text


@pytest.mark.parametrize("text", [None, "", "   ", "You are a helpful, friendly assistant.", "Be concise and warm."])
def test_no_gating_phrase_is_default_proactive(text: str | None) -> None:
    rules = parse_instruction(text)
    assert rules.is_default
    assert rules.topics == () and rules.wake_phrases == () and not rules.only_when_addressed


def test_default_keeps_the_name_as_an_address_cue() -> None:
    rules = parse_instruction("Your name is Nova. You are a helpful home assistant.")
    assert rules.names == ("Nova",)
    assert rules.is_default and not rules.name_required


def test_describe_is_one_line() -> None:
    rules = parse_instruction("You are an AI assistant in Italian cooking; only chime in when the topic is about Italian cooking.")
    assert rules.describe() == "topics=['Italian cooking'] names=[] wake=[] addressed=False"
    assert "by_name=True" in parse_instruction("Your name is Nova. Only answer when called by name.").describe()


def test_rules_are_frozen() -> None:
    rules = GatingRules(topics=("wine",))
    with pytest.raises(AttributeError):
        rules.topics = ("beer",)  # type: ignore[misc]


def test_a_role_named_by_its_owner_calls_the_assistant() -> None:
    assert "car" in parse_instruction("You are the car's assistant. Only respond when someone in the car talks to you.").roles


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("You are the assistant built into the bathroom mirror. Only respond when someone talks to you.", "mirror"),
        ("You are the voice assistant in the kitchen radio; answer only when someone is talking to you.", "radio"),
    ],
)
def test_the_device_it_is_built_into_calls_the_assistant(text: str, role: str) -> None:
    rules = parse_instruction(text)
    assert role in rules.roles and rules.only_when_addressed


def test_a_place_it_sits_in_is_no_role() -> None:
    assert parse_instruction("You are a helpful assistant in a shared student flat.").roles == ("assistant", "computer")


def test_an_unquoted_wake_phrase_after_a_colon() -> None:
    assert parse_instruction("Wake word: hey Juniper. Stay silent otherwise.").wake_phrases == ("hey juniper",)


def test_a_sync_is_a_meeting() -> None:
    assert parse_instruction("You listen in on the design team's daily sync.").meeting


def test_speaking_to_it_by_its_name_is_name_gating() -> None:
    rules = parse_instruction("Your name is Otto. Only respond when someone speaks to you as Otto.")
    assert rules.names == ("Otto",) and rules.name_required


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("You help out in a bike workshop. Only chime in when people ask about fixing or maintaining bicycles.",
         ("fixing bicycles", "maintaining bicycles")),
        ("Only chime in about camping, birdwatching or reading maps.", ("camping", "birdwatching", "reading maps")),
        ("You're mounted on the wall of a small pottery studio; help the potters with their craft.", ("craft",)),
        ("Speak up only about knitting: patterns, yarn and needles.",
         ("knitting", "knitting: patterns", "knitting: yarn", "knitting: needles")),
        ("Cycling questions only (road and track).", ("Cycling",)),
        ("Respond only to questions and requests about card games such as bridge.", ("card games", "bridge")),
    ],
)
def test_topic_lists_share_their_object_and_keep_their_elaboration(text: str, topics: tuple[str, ...]) -> None:
    assert parse_instruction(text).topics == topics
