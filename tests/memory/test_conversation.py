"""The answer plan: quotes for the tiny model, evidence in the prompt for stronger ones."""

from __future__ import annotations

import pytest

from chimein.generation.llm import ChatMessage
from chimein.memory.colistening import answer_mode_for, language_of
from chimein.memory.conversation import Conversation
from chimein.memory.heard import NOT_HEARD_REPLY, HeardStore
from chimein.memory.listening import HeardSentence

pytestmark = pytest.mark.slow  # the heard store embeds with the real MiniLM

JFK = HeardSentence(0.3, 10.6, "And so my fellow Americans, ask not what your country can do for you, "
                    "ask what you can do for your country.")


@pytest.fixture
def conv(embedder) -> Conversation:
    c = Conversation(heard=HeardStore(embedder))
    entry = c.start_heard(source="recording", duration_s=11.0)
    c.add_heard_sentences(entry, [JFK])
    c.finish_heard(entry)
    return c


def test_quote_mode_answers_from_the_recording(conv):
    conv.add_user("What did the speaker ask Americans to do?")
    plan = conv.answer_plan("Be brief.", mode="quote")
    assert plan.fixed_reply is not None and "ask what you can do for your country" in plan.fixed_reply
    assert "".join(plan.stream_reply(None, max_tokens=10)) == plan.fixed_reply  # no model needed
    assert plan.to_json()["grounding"]["relevant"]


def test_llm_mode_puts_the_evidence_in_the_prompt(conv):
    conv.add_user("What did the speaker ask Americans to do?")
    plan = conv.answer_plan("Be brief.", mode="llm")
    assert plan.fixed_reply is None
    system = plan.messages[0].content
    assert "From the recording you heard (at 0:00): 'And so my fellow Americans" in system
    assert plan.messages[-1] == ChatMessage("user", "What did the speaker ask Americans to do?")
    assert conv.chat_messages("Be brief.")[0].content == system


def test_not_heard_and_general_questions(conv):
    conv.add_user("What did he say about the economy?")
    assert conv.answer_plan("x", mode="quote").fixed_reply == NOT_HEARD_REPLY
    conv.add_assistant(NOT_HEARD_REPLY)
    conv.add_user("What is the capital of France?")
    plan = conv.answer_plan("x", mode="quote")
    assert plan.fixed_reply is None and "And so my fellow" not in plan.messages[0].content


def test_file_without_a_question_gets_a_gist(conv):
    plan = conv.answer_plan("x", mode="quote")
    assert plan.fixed_reply == 'I listened to the recording. It begins: "And so my fellow Americans, ask not what ' \
                               'your country can do for you, ask what you can do for your country."'


def test_declined_turns_stay_out_of_the_prompt(conv):
    conv.add_user("did you feed the cat").addressed = False
    assert conv.pending_question() is None
    conv.add_user("What did the speaker ask Americans to do?")
    texts = [m.content for m in conv.answer_plan("x", mode="llm").messages]
    assert not any("feed the cat" in t for t in texts)


def test_mode_and_language_helpers():
    class Tiny:
        name = "smollm2-135m-instruct"

    class Big:
        name = "openai-compatible:qwen2.5-7b"

    assert answer_mode_for(Tiny()) == "quote" and answer_mode_for(Big()) == "llm"
    assert language_of("en-US") == "en" and language_of(None) is None


def test_the_last_user_line_is_taken_back_only_if_it_says_the_same():
    memory = Conversation()
    memory.add_user("What about pasta?")
    memory.add_assistant("Pasta is great.")
    memory.add_user("I really like Italian food;")
    memory.forget_last_user("Something else")
    assert [e.text for e in memory.entries][-1] == "I really like Italian food;"
    memory.forget_last_user("I really like Italian food;")
    assert [e.text for e in memory.entries] == ["What about pasta?", "Pasta is great."]
    memory.forget_last_user("What about pasta?")  # the last user line, across the answer after it
    assert [e.text for e in memory.entries] == ["Pasta is great."]
