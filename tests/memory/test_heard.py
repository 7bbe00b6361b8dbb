"""Heard material: retrieval with the real MiniLM, grounded quotes, "I did not hear that"."""

from __future__ import annotations

import pytest

from chimein.memory.heard import (
    NOT_HEARD_REPLY,
    HeardStore,
    answer_type_fits,
    content_words,
    refers_to_heard,
    spoken_time,
)
from chimein.memory.listening import HeardSentence

pytestmark = pytest.mark.slow

# The Asterisk demo prompt (MANIFEST.tsv), as Whisper base sentences it, with its times.
DEMO = [
    HeardSentence(0.0, 0.82, "Congratulations!"),
    HeardSentence(1.6, 7.0, "You have successfully installed and executed the Asterisk Open Source PBX."),
    HeardSentence(7.32, 13.9, "You have also installed a set of sample sounds and configuration files that should help you get started."),
    HeardSentence(14.22, 18.92, "Like a normal PBX, you will navigate this demonstration by dialing digits."),
    HeardSentence(19.39, 29.67, "If you are using a console channel driver instead of a real phone, you can use the dial, "
                  "answer, and hang up commands to simulate the actions of a standard telephone."),
]
RECIPE = [HeardSentence(0.0, 9.44, "One pound of lobster meat, one teaspoon full of butter, one half pint of cream, "
                        "Yolks of four eggs, one wine glass of sherry, lobster fat.")]


@pytest.fixture
def store(embedder) -> HeardStore:
    s = HeardStore(embedder)
    rec = s.start_recording("recording", heard_at_s=0.0, duration_s=30.28)
    s.add_sentences(rec.id, DEMO)
    s.finish_recording(rec.id)
    return s


def test_retrieves_the_sentence_that_answers(store):
    hit = store.search("How do you navigate the demonstration?")[0]
    assert "dialing digits" in hit.segment.text
    assert hit.segment.start_s == 14.22
    hit = store.search("What can I use instead of a real phone?")[0]
    assert "hang up" in hit.segment.text


def test_grounded_quote_names_the_time(store):
    grounding = store.ground("What did the recording say about using a console channel driver?")
    assert grounding.relevant and grounding.refers_to_heard
    reply = grounding.quote_reply()
    assert reply is not None
    assert "hang up commands" in reply
    # Two evidence sentences are quoted in recording order; the time is where the quote begins.
    first = min(h.segment.start_s for h in grounding.hits[:2])
    assert reply.startswith(f"In the recording, about {round(first)} seconds in, I heard:"), reply
    note = grounding.prompt_note()
    assert "(at 0:19)" in note and "From the recording you heard" in note


def test_question_about_something_not_heard(store):
    grounding = store.ground("What did she say about the weather forecast?")
    assert not grounding.relevant and grounding.not_heard
    assert grounding.quote_reply() == NOT_HEARD_REPLY
    assert "did not hear" in grounding.prompt_note()


def test_general_question_is_left_to_the_model(store):
    grounding = store.ground("What is the capital of France?")
    assert not grounding.relevant and not grounding.refers_to_heard
    assert grounding.quote_reply() is None and grounding.prompt_note() == ""


def test_quantity_question_needs_a_number_in_the_evidence(embedder):
    s = HeardStore(embedder)
    rec = s.start_recording("recording", heard_at_s=0.0)
    s.add_sentences(rec.id, RECIPE)
    assert "half pint" in (s.ground("How much cream does the recipe need?").quote_reply() or "")
    assert s.ground("How long did she say to bake it?").not_heard  # a recipe sentence, but no time in it


def test_several_recordings_are_told_apart(store):
    rec = store.start_recording("microphone", heard_at_s=100.0)
    store.add_sentences(rec.id, RECIPE)
    assert [r.label for r in store.recordings] == ["the first recording", "the second recording"]
    reply = store.ground("How many egg yolks go into the recipe?").quote_reply() or ""
    assert reply.startswith("In the second recording") and "four eggs" in reply
    assert "first recording" in (store.ground("Which commands simulate a telephone?").quote_reply() or "")
    assert "Congratulations" in store.note(1) and "sent as a file" in store.note(1)
    assert "played into the microphone" in store.note(2)


def test_store_is_bounded(embedder):
    s = HeardStore(embedder, max_segments=3)
    rec = s.start_recording("recording", heard_at_s=0.0)
    s.add_sentences(rec.id, DEMO)
    assert len(s) == 3 and s.segments()[0].text.startswith("You have also installed")


def test_cues_and_types():
    assert refers_to_heard("What did the speaker say about taxes?")
    assert refers_to_heard("How long did she say to bake it?")
    assert refers_to_heard("Did they mention a price?")
    assert not refers_to_heard("What is the capital of France?", {"capital"})  # "the X of Y" is self-contained
    assert refers_to_heard("How fast could the steamer go?", content_words("two small steamers"))
    assert not refers_to_heard("How fast could the steamer go?")
    assert not refers_to_heard("Can you suggest a movie for tonight?")
    assert not answer_type_fits("How many knights rode out?", "The queen called her knights.")
    assert answer_type_fits("How many knights rode out?", "Twelve knights rode out.")
    assert answer_type_fits("In which month was it?", "It befell in the month of May.")
    assert not answer_type_fits("When does it open?", "The shop sells bread.")
    assert spoken_time(0.4) == "right at the start"
    assert spoken_time(12.2) == "about 12 seconds in"
    assert spoken_time(125) == "about 2 minutes 5 seconds in"
