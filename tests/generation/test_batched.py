"""The embedded model's parallel slots, with the real SmolLM2 GGUF: many conversations at once, each
keeping its own prompt cache, and a bounded history that slides without re-evaluating the kept turns."""

from __future__ import annotations

import threading
import time

import pytest

from chimein.generation.llm import ChatMessage, EmbeddedLlama
from chimein.memory.conversation import Conversation

pytestmark = pytest.mark.slow

SYSTEM = "You are a quiz helper for a family."
QUESTIONS = [
    ("What is the capital of France?", "paris"),
    ("What is the capital of Japan?", "tokyo"),
    ("What is the capital of Italy?", "rome"),
    ("What is the capital of Spain?", "madrid"),
    ("What is the capital of Germany?", "berlin"),
    ("What is the capital of England?", "london"),
]


@pytest.fixture(scope="module")
def llm() -> EmbeddedLlama:
    return EmbeddedLlama.shared()


def _reply(llm: EmbeddedLlama, conv: Conversation) -> str:
    plan = conv.answer_plan(SYSTEM)
    text = "".join(plan.stream_reply(llm, max_tokens=60)).strip()
    return text


def _alike(text: str, fresh: str, *cities: str) -> bool:
    """Reused cells and a fresh evaluation of the same messages agree up to the CPU's rounding: the
    same words, or (where a near tie between two tokens went the other way) both answers naming a
    capital the conversation is about. A cache fed wrong or misplaced tokens gives neither."""
    if text == fresh:
        return True
    return all(any(city in answer.lower() for city in cities) for answer in (text, fresh))


def test_conversations_answered_at_the_same_time_each_get_their_own_answer(llm):
    assert llm.scheduler.capacity >= len(QUESTIONS)
    answers: dict[int, str] = {}
    barrier = threading.Barrier(len(QUESTIONS))
    running: list[int] = []
    done = threading.Event()

    def ask(i: int) -> None:
        conv = Conversation()
        conv.add_user(QUESTIONS[i][0])
        barrier.wait()
        answers[i] = _reply(llm, conv)

    def watch() -> None:
        while not done.is_set():
            running.append(llm.load().active)
            done.wait(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(QUESTIONS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done.set()
    watcher.join()
    assert len(answers) == len(QUESTIONS)
    right = [i for i, (_, city) in enumerate(QUESTIONS) if city in answers[i].lower()]
    assert len(right) >= len(QUESTIONS) - 1, answers  # each its own question's answer, not a neighbour's
    assert max(running) >= 3  # they were in the engine together, not queued one by one behind a lock
    assert llm.load().active == 0 and llm.load().waiting == 0


def test_each_turn_evaluates_only_its_new_tokens_even_when_the_history_slides(llm):
    conv = Conversation()
    evaluated: list[int] = []
    shifted: list[int] = []
    for i in range(8):  # 8 question/answer pairs: the 8-entry window starts sliding at turn 5
        question = QUESTIONS[i % len(QUESTIONS)][0]
        conv.add_user(question)
        conv.add_assistant(_reply(llm, conv))
        stats = llm.engine_stats_for(conv.key)
        evaluated.append(stats.prompt_tokens - stats.cached_tokens)
        shifted.append(stats.shifted_tokens)
    # each turn evaluates the previous answer as stored, the new question and the ChatML around them;
    # a full re-evaluation of the window would be several hundred tokens
    assert max(evaluated[1:]) <= 90, evaluated
    assert max(evaluated[5:]) <= max(evaluated[1:5]) + 20, evaluated  # no step up when the window slides
    assert max(shifted[5:]) > 0 and max(shifted[:4]) == 0, shifted


def test_a_new_conversation_starts_from_the_shared_prompt_head(llm):
    warm = Conversation()
    warm.add_user("Hello!")
    _reply(llm, warm)
    fresh = Conversation()
    fresh.add_user("What do bees make?")
    _reply(llm, fresh)
    stats = llm.engine_stats_for(fresh.key)
    assert stats.cached_tokens >= stats.prompt_tokens - llm.count_tokens("What do bees make?") - 10


def test_guarded_question_is_not_sent_to_the_model(llm):
    messages = [ChatMessage("system", SYSTEM), ChatMessage("user", "How many paracetamol tablets can I take at once?")]
    text = "".join(llm.stream_reply(messages))
    assert "doctor" in text and "--llm-url" in text


def test_a_conversation_whose_slot_was_taken_gets_its_cache_back():
    small = EmbeddedLlama(slots=2)  # fewer slots than conversations
    convs = [Conversation() for _ in range(3)]
    for conv, (question, _) in zip(convs, QUESTIONS, strict=False):
        conv.add_user(question)
        conv.add_assistant(_reply(small, conv))
    assert small.engine.saved_bytes > 0  # the first conversation's cells went to host memory
    first = convs[0]
    first.add_user("And what is the capital of Portugal?")
    text = _reply(small, first)
    stats = small.engine_stats_for(first.key)
    new = small.count_tokens("And what is the capital of Portugal?") + small.count_tokens(first.entries[1].text)
    assert stats.cached_tokens >= stats.prompt_tokens - new - 12  # only the new turn was evaluated
    # The restored cells give the words a fresh evaluation of the same messages gives (which
    # capital the 135M model names varies with the CPU's arithmetic: compare, don't grade).
    fresh = "".join(small.stream_reply(first.answer_plan(SYSTEM).messages, max_tokens=60, conversation=None)).strip()
    assert text and _alike(text, fresh, "lisbon", "paris")
    small.engine.close()


def test_a_speculative_prefill_leaves_only_sampling_for_the_answer(llm):
    conv = Conversation()
    conv.add_user("What is the capital of Italy?")
    conv.add_assistant(_reply(llm, conv))
    llm.prefill(conv.preview_messages(SYSTEM, "And of Germany?"), conversation=conv.key)
    conv.add_user("And of Germany?")
    text = _reply(llm, conv)
    stats = llm.engine_stats_for(conv.key)
    assert stats.cached_tokens == stats.prompt_tokens - 1
    assert "berlin" in text.lower()


def test_words_said_so_far_leave_only_the_rest_of_the_question_for_the_answer(llm):
    """The words of a question still being spoken are evaluated without the message's end (#12):
    the answer reuses them all and evaluates only the words that followed and the reply's header."""
    conv = Conversation()
    conv.add_user("What is the capital of Spain?")
    conv.add_assistant(_reply(llm, conv))
    so_far = conv.preview_messages(SYSTEM, "And what is the capital")
    llm.prefill(so_far, conversation=conv.key, open_end=True)
    cached = next(slot.cached for slot in llm.engine._slots if slot.owner == conv.key)
    closed = llm.prompt_tokens(so_far)  # the same words as a finished message, then the reply's header
    assert cached == closed[: len(cached)] and 3 <= len(closed) - len(cached) <= 6
    conv.add_user("And what is the capital of Japan?")
    text = _reply(llm, conv)
    stats = llm.engine_stats_for(conv.key)
    left = stats.prompt_tokens - stats.cached_tokens
    assert 0 < left <= llm.count_tokens(" of Japan?") + 8  # the rest of the words, the message end, the header
    fresh = "".join(llm.stream_reply(conv.answer_plan(SYSTEM).messages, max_tokens=60, conversation=None)).strip()
    assert text and _alike(text, fresh, "tokyo", "madrid")


def test_an_answer_does_not_wait_for_its_own_prefill(llm):
    conv = Conversation()
    conv.add_user("What is the capital of Spain?")
    conv.add_assistant(_reply(llm, conv))
    question = "And what is the capital of France? " + "Please answer briefly and clearly. " * 6
    prefill = threading.Thread(target=llm.prefill, args=(conv.preview_messages(SYSTEM, question),),
                               kwargs={"conversation": conv.key})
    prefill.start()
    conv.add_user(question)
    text = _reply(llm, conv)  # takes the slot over; whatever the prefill fed is reused
    prefill.join(60)
    # The same messages evaluated with no conversation's cache give the same words: what the prefill
    # fed was reused, not lost. (Which capital the 135M model names depends on its first answer.)
    fresh = "".join(llm.stream_reply(conv.answer_plan(SYSTEM).messages, max_tokens=60, conversation=None)).strip()
    assert text and _alike(text, fresh, "paris", "madrid")
    stats = llm.engine_stats_for(conv.key)
    assert stats.cached_tokens >= stats.prompt_tokens - llm.count_tokens(question) - 40


def test_an_answer_rests_while_its_first_clause_is_voiced(llm):
    """Once the caller has the first clause, the engine leaves the cores to the voice for a moment
    (a lower bound on a wait the engine itself makes: it cannot pass by chance)."""
    from chimein.generation.batched import FIRST_CLAUSE_REST_S

    conv = Conversation()
    conv.add_user("Tell me about the history of Paris in three sentences.")
    tokens = llm.prompt_tokens(conv.answer_plan(SYSTEM).messages)
    first_clause_out = threading.Event()
    times: list[float] = []
    for i, _ in enumerate(llm.engine.generate(tokens, max_tokens=8, first_clause_out=first_clause_out)):
        times.append(time.perf_counter())
        if i == 2:
            first_clause_out.set()
    assert len(times) == 8
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) >= FIRST_CLAUSE_REST_S * 0.9
    assert gaps.index(max(gaps)) in (2, 3)  # right after the clause, not elsewhere


def test_conversations_starting_together_read_a_new_instruction_once(llm):
    """Four conversations start at once under an instruction no slot holds yet (eight sessions
    set up with the same new instruction, asked at once): the first to be served reads the
    instruction and the examples after it; the others copy those cells instead of reading them again."""
    system = "You help the Okonkwo-Lindqvist family quiz night in Tromsø: answer with the capital city only."
    convs = [Conversation() for _ in range(4)]
    answers: dict[int, str] = {}
    barrier = threading.Barrier(len(convs))

    def ask(i: int) -> None:
        convs[i].add_user(QUESTIONS[i][0])
        barrier.wait()
        answers[i] = "".join(convs[i].answer_plan(system).stream_reply(llm, max_tokens=40)).strip()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(convs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == len(convs)
    stats = [llm.engine_stats_for(c.key) for c in convs]
    evaluated = sorted(s.prompt_tokens - s.cached_tokens for s in stats)
    assert evaluated[-1] >= 60, evaluated  # the instruction was new: someone read it
    assert max(evaluated[:-1]) <= 40, evaluated  # the rest read only their own question
    right = [i for i in answers if QUESTIONS[i][1] in answers[i].lower()]
    assert len(right) >= len(convs) - 1, answers  # copied cells give the same answers
