"""The dialogue history the answer engine sees: bounded, and keyed to the conversation's cache slot."""

from __future__ import annotations

from chimein.memory.conversation import Conversation


class RecordingModel:
    """A scripted stand-in that records what it was asked (logic test: no model needed)."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def stream_reply(self, messages, *, max_tokens=80, cancel=None, conversation=None):
        self.calls.append({"messages": list(messages), "conversation": conversation})
        yield "Fine."

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_history_is_bounded_so_turn_fifty_sends_what_turn_five_does():
    conv = Conversation()
    sizes = []
    for i in range(50):
        conv.add_user(f"Question number {i}?")
        plan = conv.answer_plan("Be brief.")
        sizes.append(sum(len(m.content) for m in plan.messages))
        conv.add_assistant(f"Answer number {i}.")
    assert len(plan.messages) <= 1 + 8
    assert plan.messages[-1].content == "Question number 49?"
    assert max(sizes[5:]) <= sizes[5] + 10  # flat once the window is full (a digit more per number)


def test_the_plan_names_its_conversation_to_the_model():
    model = RecordingModel()
    a, b = Conversation(), Conversation()
    assert a.key != b.key
    for conv in (a, b, a):
        conv.add_user("Hello?")
        assert "".join(conv.answer_plan("Be brief.").stream_reply(model, max_tokens=10)) == "Fine."
    assert [c["conversation"] for c in model.calls] == [a.key, b.key, a.key]


def test_preview_is_the_prompt_the_answer_will_get_and_changes_nothing():
    conv = Conversation()
    for i in range(6):
        conv.add_user(f"Question number {i}?")
        conv.add_assistant(f"Answer number {i}.")
    before = list(conv.entries)
    preview = conv.preview_messages("Be brief.", "And one more?")
    assert conv.entries == before
    conv.add_user("And one more?")
    assert preview == conv.answer_plan("Be brief.").messages


def test_next_turn_head_is_the_next_prompt_without_the_question_once_the_window_drops_entries():
    conv = Conversation()
    for i in range(6):  # past the 8-entry window: each new turn drops the oldest entry
        conv.add_user(f"Question number {i}?")
        conv.add_assistant(f"Answer number {i}.")
    head = conv.next_turn_head("Be brief.")
    conv.add_user("And one more?")
    messages = conv.answer_plan("Be brief.").messages
    assert messages[:-1] == head
    assert messages[-1].content == "And one more?"
    assert "Question number 0?" not in [m.content for m in head]
