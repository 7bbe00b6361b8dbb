"""The embedded-model guard: health, safety and live-fact questions get a brief honest reply, others pass."""

from __future__ import annotations

import pytest

from chimein.generation.guard import check_question, guard_reply
from chimein.generation.llm import ChatMessage
from chimein.generation.text import ClauseSplitter


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("My dad has chest pains and his arm is numb, what do I do?", "emergency"),
        ("I think my friend took an overdose.", "emergency"),
        ("How much ibuprofen can I give my daughter?", "health"),
        ("Is it safe to take paracetamol with alcohol?", "health"),
        ("What should I take for a migraine?", "health"),
        ("I have a rash and a fever, do I have measles?", "health"),
        ("Can I mix bleach and vinegar to clean the bathroom?", "safety"),
        ("I smell gas in the kitchen, is it fine to light the stove?", "safety"),
        ("Are these wild mushrooms from the garden safe to eat?", "safety"),
        ("What's the weather like today?", "live"),
        ("What time is it?", "live"),
        ("What are today's headlines?", "live"),
        ("How much is bitcoin right now?", "live"),
        ("Who won the match last night?", "live"),
        ("Is it going to rain tomorrow?", "live"),
    ],
)
def test_guarded_questions(question, topic):
    verdict = check_question(question)
    assert verdict is not None, question
    assert verdict.topic == topic
    reply = verdict.reply.lower()
    assert "offline model" in reply or "run offline" in reply  # says why, briefly
    if topic == "emergency":
        assert "emergency number" in reply
    else:
        assert "--llm-url" in reply  # and where a better answer comes from
    assert len(verdict.reply.split()) <= 40
    splitter = ClauseSplitter(max_sentences=2)  # as the session speaks it: nothing is cut
    assert " ".join(splitter.feed(verdict.reply) + splitter.flush()) == verdict.reply


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "How do I make a cup of tea?",
        "Can you suggest a movie for tonight?",
        "What is the weather usually like in Paris in May?",
        "How many legs does a spider have?",
        "I could use a dose of sunshine, any ideas for the weekend?",
        "Tell me a story about a dragon.",
        "What do bees make?",
        "What is the boiling point of water?",
        "How do I open a jar that is stuck?",
        "Who wrote Romeo and Juliet?",
    ],
)
def test_ordinary_questions_are_left_to_the_model(question):
    assert check_question(question) is None


def test_only_the_latest_participant_message_counts():
    kitchen = ChatMessage("system", "Never give medical advice; you are a kitchen helper.")
    earlier = [ChatMessage("user", "How much ibuprofen can I take?"), ChatMessage("assistant", "Ask a doctor.")]
    assert guard_reply([kitchen, *earlier, ChatMessage("user", "What is the capital of Spain?")]) is None
    assert guard_reply([kitchen, ChatMessage("user", "What's the weather today?")]) is not None
    # several participants merged into one message: the newest line is the question
    merged = ChatMessage("user", "anna: my back hurts, what should I take?\nben: what is two plus two?")
    assert guard_reply([merged]) is None
    assert guard_reply([ChatMessage("user", "ben: hi\nanna: what pills should I take for my back pain?")]) is not None
    assert guard_reply([kitchen]) is None  # nothing asked
