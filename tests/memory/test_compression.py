"""contextWindowCompression: the sliding window drops old turns, heard recordings become notes."""

from __future__ import annotations

import pytest

from chimein.memory.compression import CompressionConfig, compress, context_tokens
from chimein.memory.conversation import Conversation
from chimein.memory.heard import HeardStore
from chimein.memory.listening import HeardSentence

pytestmark = pytest.mark.slow  # the heard store embeds with the real MiniLM


def words(text: str) -> int:
    """A tokenizer stand-in with a known count: one token per word."""
    return len(text.split())


def test_config_from_both_casings_and_defaults():
    sdk = {"trigger_tokens": 25600, "sliding_window": {"target_tokens": 12800}}
    assert CompressionConfig.from_setup(sdk) == CompressionConfig(25600, 12800)
    camel = {"triggerTokens": "2000", "slidingWindow": {"targetTokens": "500"}}  # int64 as JSON strings
    assert CompressionConfig.from_setup(camel) == CompressionConfig(2000, 500)
    assert CompressionConfig.from_setup({"slidingWindow": {}}) == CompressionConfig(104857, 52428)
    assert CompressionConfig.from_setup({"triggerTokens": 1000}) == CompressionConfig(1000, 500)
    assert CompressionConfig.from_setup(None) is None
    for bad in ({"triggerTokens": -5}, {"triggerTokens": 100, "slidingWindow": {"targetTokens": 100}},
                {"triggerTokens": "lots"}, {"slidingWindow": 3}, [1]):
        with pytest.raises(ValueError):
            CompressionConfig.from_setup(bad)  # type: ignore[arg-type]


def _conversation(embedder) -> Conversation:
    conv = Conversation(heard=HeardStore(embedder))
    conv.add_user("hello there, can you listen to something with me")
    conv.add_assistant("sure, play it")
    heard = conv.start_heard(source="recording", duration_s=11.0)  # 352 tokens of audio
    conv.add_heard_sentences(heard, [HeardSentence(0.0, 11.0, "And so my fellow Americans, ask not what your country "
                                                   "can do for you, ask what you can do for your country.")])
    conv.finish_heard(heard)
    for i in range(12):
        conv.add_user(f"question number {i} about something quite unrelated to the speech we heard")
        conv.add_assistant(f"answer number {i} which is also rather long and wordy for the test")
    conv.add_user("What did the speaker ask Americans to do?")
    return conv


def test_nothing_happens_below_the_trigger(embedder):
    conv = _conversation(embedder)
    before = context_tokens(conv, words)
    assert compress(conv, CompressionConfig(before, before // 2), words) is None
    assert context_tokens(conv, words) == before


def test_sliding_window_keeps_the_clip_as_a_note(embedder):
    conv = _conversation(embedder)
    before = context_tokens(conv, words)
    assert before > 600
    result = compress(conv, CompressionConfig(trigger_tokens=600, target_tokens=300), words)
    assert result is not None and result.before_tokens == before
    assert result.after_tokens <= 300 + 100  # the summary note may overshoot by its own size
    assert result.dropped_turns > 10 and result.compacted_recordings == 1
    kinds = [e.kind for e in conv.entries]
    assert kinds[0] == "summary" and "heard" in kinds
    assert conv.entries[-1].text == "What did the speaker ask Americans to do?"  # the question survives
    rec = conv.heard.recordings[0]
    assert rec.compact and "fellow Americans" in conv.heard.note(rec.id)
    # The clip is still answerable from its sentences, and the prompt names it.
    plan = conv.answer_plan("Be brief.", mode="quote")
    assert plan.fixed_reply is not None and "for your country" in plan.fixed_reply
    system = conv.answer_plan("Be brief.", mode="llm").messages[0].content
    assert "Earlier in this conversation (summarised)" in system and "user said: question number" in system
    assert "Recordings you listened to" in system
    # A second slide folds the old summary in and stays bounded.
    for i in range(20):
        conv.add_user(f"more chatter {i} " * 5)
    compress(conv, CompressionConfig(trigger_tokens=600, target_tokens=300), words)
    summaries = [e for e in conv.entries if e.kind == "summary"]
    assert len(summaries) == 1 and len(summaries[0].text.split()) <= 80
