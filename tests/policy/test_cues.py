"""The rule cues: request or chatter, who is addressed, name and wake phrase used as a call."""

from __future__ import annotations

import pytest

from chimein.policy.cues import analyse


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I really like Italian food; do you know how to make a pizza?", "question"),
        ("How long should I boil spaghetti?", "question"),
        ("how long should I boil spaghetti", "question"),  # no punctuation
        ("my sauce keeps splitting how do I fix it", "question"),  # question inside, no punctuation
        ("Turn on the lights.", "command"),
        ("please set a timer for ten minutes", "command"),
        ("Can you tell me how many ounces are in a cup?", "question"),
        ("I wonder what the population of Canada is.", "open_need"),
        ("Does anyone know if metformin should be taken with food", "open_need"),
        ("I never know whether to salt the pasta water.", "open_need"),
        ("Do you want to get tacos?", "social"),
        ("Have you ever been to Lisbon?", "social"),
        ("Should we order sushi tonight?", "social"),
        ("Where did you buy it?", "social"),
        ("Does anyone want more salad?", "social"),
        ("Let's open the champagne at midnight.", "social"),
        ("I really love cooking!", "statement"),
        ("Oh yes, me too! My favorite is French cuisine.", "statement"),
        ("And the living room too.", "continuation"),
        # a wh-clause with its own subject, closed as a statement (a speech heard on a loudspeaker)
        ("What your country can do for you ask what you can do for your country.", "statement"),
        ("What you need is a bigger pan.", "statement"),
        ("not really, just what he's talking about, duplication of effort.", "statement"),  # AMI meeting talk
        ("What you need to do is whisk it?", "question"),
        ("What is the capital of Peru.", "question"),  # ASR closed a question with a period
        # needs said as statements, as people say them (dev2)
        ("no idea which way round the brake pads are supposed to go", "open_need"),
        ("I'm never sure how many fish you can put in a tank this size.", "open_need"),
        ("not sure how much salt goes in", "open_need"),
        # work an assistant can do, asked of the room; and an errand only a person can run
        ("can someone look up how long we must keep the logs", "open_need"),
        ("can someone grab me a coffee on the way back", "social"),
        # about a thing the people have in front of them, or what one of them did
        ("Is that one any better?", "social"),
        ("Oh, can I see it?", "social"),
        ("Nice, how much did you pay for it?", "social"),
        ("How long did you say to bake it?", "question"),
        # read aloud (a book, the radio): an auxiliary or "when" opening a clause closed as a statement
        ("will be ever forget it.", "statement"),
        ("Unless to be rather cold-hearted and rather selfish, is to be old-sposed.", "statement"),
        ("When a man looks for something beyond his reach, his friend says looking for the pot of gold.", "statement"),
        ("Will you set a timer.", "question"),  # the same closing, but an auxiliary with its subject
        ("Is the oven still on.", "question"),
        ("When is dinner, Kit?", "question"),
        ("When I get home, remind me to call mum.", "command"),
        # a short tail asks nothing of its own: the clause before it decides
        ("Did you finish the book one, let you?", "social"),  # "... the book I lent you?", misheard
        ("Did you lock the door, right?", "social"),
        ("Set a timer for ten minutes, okay?", "command"),
        ("It's two hundred degrees, right?", "statement"),
        ("What time is it, please?", "question"),
        # invitations and questions among the household are for the people present
        ("Want to come to the quiz night on Thursday?", "social"),
        ("fancy a walk after lunch", "social"),
        ("whose turn is it to feed the rabbit", "social"),
        ("Want to know how long to steep green tea?", "social"),
        # where the speaker left something: for whoever saw it, not for the assistant
        ("Do you know where I left my glasses?", "social"),
        ("where did we park the car", "social"),
        ("Where do I put the filter?", "question"),
    ],
)
def test_request_kind(text: str, kind: str) -> None:
    assert analyse(text).kind == kind


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("Maria, do you want pizza tonight?", "Maria"),
        ("maria do you want pizza tonight", "maria"),  # ASR without punctuation
        ("Hey Chris, can you hand me the spatula?", "Chris"),
        ("Dad, can you pass the potatoes?", "Dad"),
        ("The lasagna is delicious, Mom.", "Mom"),
        ("Yes, Juventus played terribly, who will win?", None),
        ("Oh lovely, is a pinot noir served chilled?", None),
        ("Great idea, did you put it in the fridge?", None),
        ("How long should I boil spaghetti?", None),
    ],
)
def test_question_to_a_person(text: str, person: str | None) -> None:
    assert analyse(text).to_person == person


@pytest.mark.parametrize(
    ("text", "called"),
    [
        ("Nova, turn on the lights.", True),
        ("nova turn on the lights", True),
        ("Hey Nova, what's the weather like?", True),
        ("What time is it, Nova?", True),
        ("Okay Nova, remind me to water the plants.", True),
        ("can you add milk to the list nova", True),
        ("so like nova what's on the calendar", True),  # a filler before the name, no comma
        ("Nova and her brother went out.", False),
        ("Nova is broken again.", False),
        ("I asked Nova yesterday.", False),
        ("Did Nova remind you about the dentist?", False),
        ("I named it Nova.", False),
    ],
)
def test_name_used_to_address_or_mentioned(text: str, called: bool) -> None:
    cues = analyse(text, names=("Nova",))
    assert (cues.assistant_vocative is not None) is called
    assert cues.name_mentioned
    assert cues.to_person is None


@pytest.mark.parametrize(
    ("text", "wake", "passing"),
    [
        ("hey chef how long do I roast a chicken", True, False),
        ("Hey, Chef! Can you convert grams to cups?", True, False),
        ("HEY CHEF. Timer for five minutes.", True, False),
        ("Okay, hey chef: is this cooked?", True, False),
        ("like hey chef how hot should the pan be", True, False),  # "like" as a filler, not "words like"
        ("I'm hey chef, is the oven hot?", True, False),  # a spoken "um" written as "I'm"
        ("It has words like hey chef on the box.", False, True),
        ("She always says hey chef when she walks in.", False, True),
        ("The head chef is amazing.", False, False),
        ("Hey Chris, pass the salt.", False, False),
    ],
)
def test_wake_phrase_variants(text: str, wake: bool, passing: bool) -> None:
    cues = analyse(text, wake_phrases=("hey chef",))
    assert (cues.wake == "hey chef") is wake
    assert cues.wake_in_passing is passing


def test_okay_heard_as_go_k_is_still_the_wake_phrase() -> None:
    assert analyse("Go K juniper. What's on the calendar?", wake_phrases=("okay juniper",)).wake == "okay juniper"


@pytest.mark.parametrize(
    ("text", "names", "called"),
    [
        ("Bren, what can I use instead of butter?", ("Wren",), True),  # the first consonant misheard
        ("Kiona, set a timer.", ("Fiona",), True),
        ("Ben, can you pass the salt?", ("Ken",), False),  # three letters: another name, not a slip
        ("Maria, do you want pizza tonight?", ("Nova",), False),
    ],
)
def test_a_name_misheard_in_its_first_sound_still_calls_the_assistant(text: str, names: tuple[str, ...], called: bool) -> None:
    cues = analyse(text, names=names)
    assert (cues.assistant_vocative is not None) is called
    assert (cues.to_person is None) is called


def test_ok_and_okay_are_the_same_wake_phrase() -> None:
    assert analyse("Okay computer, what's the time?", wake_phrases=("ok computer",)).wake == "ok computer"
    assert analyse("OK computer play the news", wake_phrases=("ok computer",)).wake == "ok computer"
    assert analyse("Okay, have you tried restarting the computer?", wake_phrases=("ok computer",)).wake is None


def test_anaphora_marks_a_follow_up() -> None:
    assert analyse("Can it make you drowsy?").anaphoric
    assert analyse("And how long in the oven?").anaphoric
    assert not analyse("What time is the taxi coming?").anaphoric


@pytest.mark.parametrize(
    ("text", "no_subject"),
    [("what did I do wrong", True), ("how do we stop that happening tonight", True),
     ("how do I stop the chain slipping", False), ("what should I do about the pinholes", False)],
)
def test_a_turn_that_names_no_subject_of_its_own_takes_it_from_the_previous_line(text: str, no_subject: bool) -> None:
    assert analyse(text).no_subject is no_subject


@pytest.mark.parametrize(
    ("text", "wake", "called"),
    [
        ("Hey at last, what time is it?", "hey atlas", True),  # the name heard as two words
        ("hello Bazil, what is twelve times four", "hello basil", True),
        ("Hello Brazil is lovely in June.", "hello basil", False),  # another word, not a spelling
        ("Hey Alice, can you pass the salt?", "hey atlas", False),
        ("ok pickle turn it on", "okay pixel", False),
        ("turning the porch light on, hey atlas.", "hey atlas", True),  # "like on" before it is no quotation
        ("if you say hey atlas it wakes up", "hey atlas", False),
    ],
)
def test_a_wake_phrase_is_heard_through_the_recognisers_spelling_of_its_name(text: str, wake: str, called: bool) -> None:
    assert (analyse(text, (), (wake,)).wake is not None) is called


@pytest.mark.parametrize(
    ("text", "name", "called", "person"),
    [
        ("Can you read me the news headlines, Ren?", "Wren", "Ren", None),  # a homophone
        ("Bazil, what's on my calendar?", "Basil", "Bazil", None),
        ("Lumie, turn the lights off.", "Lumi", "Lumie", None),
        ("Kate, can you pass the salt?", "Kit", None, "Kate"),  # another vowel: another person
        ("Ben, could you help me with this?", "Wren", None, "Ben"),
    ],
)
def test_a_person_called_by_a_name_that_sounds_like_the_assistants_is_the_assistant(
    text: str, name: str, called: str | None, person: str | None
) -> None:
    cues = analyse(text, (name,))
    assert cues.assistant_vocative == called
    assert cues.to_person == person


def test_a_role_glued_to_a_hesitation_still_calls_the_assistant() -> None:
    cues = analyse("Unassistant, what's the Wi-Fi password?", roles=("assistant",))
    assert cues.role_vocative == "assistant" and cues.to_person is None
    assert analyse("Hans, what's the Wi-Fi password?", roles=("assistant",)).to_person == "Hans"


def test_uh_written_a_before_the_name_or_wake_phrase_is_a_filler():
    """The recogniser writes a spoken "uh" as "a": "uh, Benji, set a timer" comes back "a Benji set a timer"."""
    assert analyse("a Benji set a timer for 12 minutes.", ("Benji",)).assistant_vocative == "Benji"
    assert analyse("So, a Hey Cobalt play the news.", (), ("hey cobalt",)).wake == "hey cobalt"
    assert analyse("I saw a Benji movie yesterday.", ("Benji",)).assistant_vocative is None
    assert analyse("so Benji is coming tonight", ("Benji",)).assistant_vocative is None


@pytest.mark.parametrize("text", ["Yeah, really?", "Yellow, really?", "Seriously?", "Oh, is it?", "You think?", "No way?"])
def test_a_question_that_only_reacts_is_not_a_request(text: str):
    assert analyse(text).kind == "social"


@pytest.mark.parametrize("text", ["Is it raining?", "Really, what time is it?", "Why?", "Is it safe to eat raw eggs?"])
def test_a_question_with_words_of_its_own_still_asks(text: str):
    assert analyse(text).kind == "question"
