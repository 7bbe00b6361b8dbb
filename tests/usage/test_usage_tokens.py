"""Token arithmetic and the usageMetadata wire form, checked through the real google-genai SDK."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from google import genai
from google.genai import types
from google.genai.live import AsyncSession

from chimein.usage.tokens import AUDIO_TOKENS_PER_SECOND, AccountingRules, TurnUsage, UsageMeter, audio_tokens


def test_audio_tokens_rounding_rule() -> None:
    assert AUDIO_TOKENS_PER_SECOND == 32
    assert audio_tokens(0) == 0
    assert audio_tokens(1.0) == 32
    assert audio_tokens(60.0) == 1920
    assert audio_tokens(0.25) == 8
    assert audio_tokens(1 / 32) == 1
    assert audio_tokens(0.001) == 1  # a started 1/32 s counts
    assert audio_tokens(0.3) == 10  # 9.6 -> 10
    assert audio_tokens(sum([0.1] * 10)) == 32  # 0.9999999999999999 s
    assert audio_tokens(3 * 0.1 * 10) == 96  # 3.0000000000000004 s must not become 97
    with pytest.raises(ValueError):
        audio_tokens(-0.5)
    with pytest.raises(ValueError):
        audio_tokens(float("nan"))


def test_many_small_chunks_are_exact() -> None:
    meter = UsageMeter()
    for _ in range(1000):
        meter.add_input_audio(533, 16000)
    usage = meter.take_turn()
    assert usage.prompt_audio_tokens == 1066  # 533,000 samples = 33.3125 s = 1066 tokens exactly
    assert usage.input_audio_s == 33.3125
    assert usage.prompt_audio_tokens == audio_tokens(533_000 / 16000)


def test_chunks_with_fractional_tokens_do_not_drift() -> None:
    meter = UsageMeter()
    for _ in range(1001):
        meter.add_input_audio(333, 16000)  # 20.8125 ms each: 0.666 of a token
    # 333,333 samples = 20.8333125 s = 666.666 tokens -> 667, not 1001 (ceil per chunk)
    assert meter.session_total.prompt_audio_tokens == 667


def test_turns_add_up_to_session_total() -> None:
    meter = UsageMeter()
    turns = []
    sizes = [1, 499, 500, 501, 7919, 160, 320, 16000, 3]
    for i in range(60):
        meter.add_input_audio(sizes[i % len(sizes)], 16000)
        if i % 3 == 0:
            meter.add_output_audio(sizes[(i + 4) % len(sizes)] * 3 // 2, 24000)
        if i % 7 == 6:
            turns.append(meter.take_turn())
    turns.append(meter.take_turn())
    total = sum(turns, TurnUsage())
    assert total == meter.session_total
    assert all(t.prompt_audio_tokens >= 0 and t.response_audio_tokens >= 0 for t in turns)
    in_samples = sum(sizes[i % len(sizes)] for i in range(60))
    assert total.prompt_audio_tokens == -(-in_samples * 32 // 16000)


def test_declined_turn_has_zero_response_tokens() -> None:
    meter = UsageMeter()
    meter.add_input_audio(16000 * 5, 16000)  # the assistant listened for 5 s and chose silence
    usage = meter.take_turn()
    assert usage == TurnUsage(prompt_audio_tokens=160)
    assert usage.response_tokens == 0 and usage.total_tokens == 160
    wire = usage.to_wire(vertex=False)
    assert wire == {
        "promptTokenCount": 160,
        "responseTokenCount": 0,
        "totalTokenCount": 160,
        "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 160}],
    }


def test_interrupted_answer_bills_only_what_was_sent() -> None:
    meter = UsageMeter()
    meter.add_input_audio(16000 * 2, 16000)
    # 3 s of answer were planned; the user interrupted after 1.2 s had been sent.
    sent = int(24000 * 1.2)
    for start in range(0, sent, 480):
        meter.add_output_audio(min(480, sent - start), 24000)
    usage = meter.take_turn()
    assert usage.response_audio_tokens == 39  # 1.2 s * 32 = 38.4 -> 39
    assert usage.output_audio_s == pytest.approx(1.2)


def test_mixed_rates_and_text() -> None:
    meter = UsageMeter()
    meter.add_input_audio(8000, 16000)  # 0.5 s
    meter.add_input_audio(22050, 44100)  # 0.5 s of a co-listened file
    meter.add_input_text(7)
    meter.add_output_text(11)
    usage = meter.take_turn()
    assert usage == TurnUsage(prompt_audio_tokens=32, prompt_text_tokens=7, response_text_tokens=11)
    assert (usage.prompt_tokens, usage.response_tokens, usage.total_tokens) == (39, 11, 50)
    assert meter.take_turn() == TurnUsage()  # nothing new since


def test_ledger_cursor_is_independent_of_turn_cursor() -> None:
    meter = UsageMeter()
    meter.add_input_audio(16000, 16000)
    assert meter.take_unrecorded().prompt_audio_tokens == 32  # a listening checkpoint
    meter.add_input_audio(8000, 16000)
    assert meter.peek_turn().prompt_audio_tokens == 48
    turn = meter.take_turn()
    rest = meter.take_unrecorded()
    assert turn.prompt_audio_tokens == 48  # the client hears about the whole turn
    assert rest.prompt_audio_tokens == 16  # the ledger gets only what it lacked


def test_accounting_rules_are_configurable() -> None:
    meter = UsageMeter(AccountingRules(input_audio_tokens_per_second=0, output_audio_tokens_per_second=25))
    meter.add_input_audio(16000 * 10, 16000)
    meter.add_output_audio(24000 * 2, 24000)
    assert meter.take_turn() == TurnUsage(prompt_audio_tokens=0, response_audio_tokens=50)
    assert UsageMeter().rules.input_audio_tokens_per_second == 32
    with pytest.raises(ValueError):
        AccountingRules(input_audio_tokens_per_second=-1)


def test_meter_rejects_nonsense() -> None:
    meter = UsageMeter()
    with pytest.raises(ValueError):
        meter.add_input_audio(-1, 16000)
    with pytest.raises(ValueError):
        meter.add_output_audio(10, 0)
    with pytest.raises(ValueError):
        meter.add_input_text(-3)


def test_meter_is_thread_safe() -> None:
    meter = UsageMeter()

    def feed() -> None:
        for _ in range(2000):
            meter.add_input_audio(320, 16000)

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert meter.session_total.prompt_audio_tokens == 4 * 2000 * 320 * 32 // 16000


USAGE = TurnUsage(prompt_audio_tokens=40, prompt_text_tokens=2, response_audio_tokens=10)


def test_to_wire_spellings() -> None:
    assert USAGE.to_wire(vertex=False) == {
        "promptTokenCount": 42,
        "responseTokenCount": 10,
        "totalTokenCount": 52,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 2},
            {"modality": "AUDIO", "tokenCount": 40},
        ],
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 10}],
    }
    vertex = USAGE.to_wire(vertex=True)
    assert vertex["candidatesTokenCount"] == 10
    assert vertex["candidatesTokensDetails"] == [{"modality": "AUDIO", "tokenCount": 10}]
    assert "responseTokenCount" not in vertex and "responseTokensDetails" not in vertex


class _OneFrameSocket:
    """Stands in for the network only: hands the SDK's receive loop the bytes a server sent."""

    def __init__(self, frames: list[dict]) -> None:
        self._frames = [json.dumps(f).encode() for f in frames]

    async def recv(self, decode: bool = True) -> bytes:
        return self._frames.pop(0)


def _sdk_receive(usage_metadata: dict, *, vertex: bool) -> types.UsageMetadata | None:
    """Parse a turnComplete frame the way a real google-genai client does (its own receive())."""
    client = genai.Client(vertexai=True, api_key="test-key") if vertex else genai.Client(api_key="test-key")
    frame = {"serverContent": {"turnComplete": True}, "usageMetadata": usage_metadata}
    session = AsyncSession(api_client=client._api_client, websocket=_OneFrameSocket([frame]))

    async def first() -> types.LiveServerMessage:
        async for message in session.receive():
            return message
        raise AssertionError("no message")

    message = asyncio.run(first())
    assert message.server_content.turn_complete is True
    return message.usage_metadata


@pytest.mark.parametrize("vertex", [False, True], ids=["gemini", "vertex"])
def test_sdk_parses_our_usage_metadata(vertex: bool) -> None:
    um = _sdk_receive(USAGE.to_wire(vertex=vertex), vertex=vertex)
    assert um is not None
    assert (um.prompt_token_count, um.response_token_count, um.total_token_count) == (42, 10, 52)
    assert {(d.modality, d.token_count) for d in um.prompt_tokens_details} == {
        (types.MediaModality.AUDIO, 40),
        (types.MediaModality.TEXT, 2),
    }
    assert [(d.modality, d.token_count) for d in um.response_tokens_details] == [
        (types.MediaModality.AUDIO, 10)
    ]


@pytest.mark.parametrize("vertex", [False, True], ids=["gemini", "vertex"])
def test_declined_turn_reads_zero_not_none(vertex: bool) -> None:
    um = _sdk_receive(TurnUsage(prompt_audio_tokens=96).to_wire(vertex=vertex), vertex=vertex)
    assert um.response_token_count == 0
    assert um.response_tokens_details is None
    assert um.total_token_count == 96


@pytest.mark.parametrize("vertex", [False, True], ids=["gemini", "vertex"])
def test_the_other_spelling_is_lost(vertex: bool) -> None:
    """Why the mode matters: the other product's spelling reaches the client as None."""
    um = _sdk_receive(USAGE.to_wire(vertex=not vertex), vertex=vertex)
    assert um.prompt_token_count == 42
    assert um.response_token_count is None
    assert um.response_tokens_details is None
