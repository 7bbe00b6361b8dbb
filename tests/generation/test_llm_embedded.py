"""EmbeddedLlama with the real SmolLM2-135M GGUF: spoken answers, streaming, cancel, prompt cache."""

from __future__ import annotations

import re
import threading

import pytest

from chimein.generation.llm import ChatMessage, EmbeddedLlama, create_language_model
from chimein.generation.text import ClauseSplitter

pytestmark = pytest.mark.slow

KITCHEN = ChatMessage("system", "You are talking with a family in their kitchen.")


@pytest.fixture(scope="module")
def llm() -> EmbeddedLlama:
    return EmbeddedLlama.shared()


def sentences(text: str) -> list[str]:
    splitter = ClauseSplitter(max_sentences=100, min_first_clause_words=10_000)
    return splitter.feed(text + " ") + splitter.flush()


def test_answers_a_spoken_question_in_one_or_two_plain_sentences(llm):
    deltas = list(llm.stream_reply([KITCHEN, ChatMessage("user", "What is the capital of France?")]))
    text = "".join(deltas).strip()
    assert len(deltas) >= 3, deltas  # streamed, not one block
    assert "Paris" in text
    assert 1 <= len(sentences(text)) <= 2, text
    assert not re.search(r"[*#`_\[\]]", text), text


def test_long_request_is_cut_after_two_sentences_without_markdown(llm):
    text = "".join(
        llm.stream_reply([ChatMessage("user", "Explain in detail how to bake bread, step by step.")])
    )
    assert 1 <= len(sentences(text)) <= 2, text
    assert not re.search(r"[*#`\[\]]|^\s*\d+\.\s", text, re.MULTILINE), text


def test_cancel_stops_the_stream_and_releases_the_model(llm):
    cancel = threading.Event()
    got = []
    for delta in llm.stream_reply(
        [ChatMessage("user", "Tell me a long story about a dragon.")], cancel=cancel
    ):
        got.append(delta)
        if len(got) == 2:
            cancel.set()
    assert len(got) == 2
    # already cancelled: nothing at all
    assert list(llm.stream_reply([ChatMessage("user", "Hello!")], cancel=cancel)) == []
    # the lock was released: a new reply works
    assert "".join(llm.stream_reply([ChatMessage("user", "Hello!")])).strip()


def test_second_turn_reuses_the_cached_prompt_head(llm):
    instruction = ChatMessage("system", "You help a student revise geography for an exam tomorrow.")
    list(llm.stream_reply([instruction, ChatMessage("user", "What is the longest river?")]))
    # a new instruction: most of the prompt had to be evaluated
    assert llm.last_cached_tokens < llm.last_prompt_tokens - 10
    question = "Which ocean is the biggest?"
    list(llm.stream_reply([instruction, ChatMessage("user", question)]))
    # same instruction: only the new user message (+ the ChatML tokens around it) was evaluated
    assert llm.last_cached_tokens >= llm.last_prompt_tokens - llm.count_tokens(question) - 8


def test_prefill_leaves_only_sampling_for_the_reply(llm):
    messages = [KITCHEN, ChatMessage("user", "What colour is a ripe banana?")]
    llm.prefill(messages)
    text = "".join(llm.stream_reply(messages))
    assert llm.last_cached_tokens == llm.last_prompt_tokens - 1
    assert text.strip()


def test_long_history_is_trimmed_to_fit_the_context(llm):
    history = []
    for i in range(60):
        history.append(ChatMessage("user", f"Question {i}: " + "tell me more about the weather " * 8))
        history.append(ChatMessage("assistant", "It is sunny and warm today, with a light breeze. " * 3))
    history.append(ChatMessage("user", "And tomorrow?"))
    tokens = llm.prompt_tokens(history, max_tokens=80)
    full = llm.count_tokens(" ".join(m.content for m in history))
    assert full > llm.n_ctx  # the history alone would not fit one conversation's context
    assert llm.n_ctx - 80 - 300 <= len(tokens) <= llm.n_ctx - 80  # trimmed, yet most of the room is used
    # the latest message survives the trim, whole
    n = llm.count_tokens("And tomorrow?") + 6
    assert tokens[-n:] == llm.prompt_tokens(history[-1:], max_tokens=80)[-n:]


def test_count_tokens_uses_the_model_tokenizer(llm):
    assert llm.count_tokens("") == 0
    assert 1 <= llm.count_tokens("Hello world") <= 4
    assert llm.count_tokens("Hello world, " * 20) > llm.count_tokens("Hello world")


def test_no_url_gives_the_shared_embedded_model(llm):
    assert create_language_model(None) is llm
    assert EmbeddedLlama.shared() is llm
