"""The session runner end to end on scripted fakes: VAD probabilities from the audio's level, Smart
Turn scores, transcripts, LLM tokens and TTS clips. No model is loaded; each test takes well under a
second of speech-free waiting."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from chimein.generation.tts import OUTPUT_RATE, SpokenAudio
from chimein.protocol.messages import (
    AudioChunk,
    ClientContent,
    RealtimeText,
    parse_client_message,
    parse_setup,
)
from chimein.protocol.models import resolve_model
from chimein.session.live import LiveSession, SessionOptions

RATE = 16000
CHUNK = 1600  # 100 ms


class FakeVadStream:
    """Speech wherever the frame is loud: a scripted VAD, one probability per 32 ms frame."""

    FRAME_SAMPLES = 512

    def reset(self) -> None:
        pass

    def probability(self, frame: np.ndarray) -> float:
        return 0.95 if float(np.abs(frame).mean()) > 0.05 else 0.02


class FakeVad:
    def stream(self) -> FakeVadStream:
        return FakeVadStream()


@dataclass
class Words:
    text: str


@dataclass
class FakeAsr:
    """Transcripts in order: one per call."""

    said: list[str]

    def transcribe(self, audio: np.ndarray) -> Words:
        return Words(self.said.pop(0) if len(self.said) > 1 else self.said[0])


class FakeSmartTurn:
    def completion_probability(self, audio: np.ndarray) -> float:
        return 0.9


class FakeSpeakers:
    def embed(self, audio: np.ndarray) -> None:
        return None  # too short for a voice print: level alone decides


@dataclass
class FakeLlm:
    reply: str = "It is noon."
    name: str = "fake"
    prompts: list[Any] = field(default_factory=list)

    def stream_reply(self, messages: list[Any], *, max_tokens: int, cancel: threading.Event | None = None) -> Iterator[str]:
        self.prompts.append(messages)
        for word in self.reply.split():
            if cancel is not None and cancel.is_set():
                return
            yield word + " "

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class FakeSynth:
    """A clip of 0.1 s per word (a quiet tone), with word timings."""

    def synthesize(self, text: str) -> SpokenAudio:
        words = text.split()
        n = int(0.1 * OUTPUT_RATE) * len(words)
        pcm = (np.sin(np.arange(n) / 7.0) * 300).astype(np.int16)
        return SpokenAudio(pcm, text, [(w, 0.1 * (i + 1)) for i, w in enumerate(words)])


@dataclass
class FakeServices:
    asr: FakeAsr
    llm: FakeLlm = field(default_factory=FakeLlm)
    vad: FakeVad = field(default_factory=FakeVad)
    smart_turn: FakeSmartTurn = field(default_factory=FakeSmartTurn)
    speakers: FakeSpeakers = field(default_factory=FakeSpeakers)
    embedder: Any = None
    ledger: Any = None

    def synthesizer(self, voice_id: str) -> FakeSynth:
        return FakeSynth()

    def own_voice_print(self, voice_id: str) -> np.ndarray:
        return np.ones(4, np.float32) / 2


def speech(seconds: float) -> np.ndarray:
    return (np.sign(np.sin(np.arange(int(seconds * RATE)) / 3.0)) * 0.3).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


class Client:
    def __init__(self, said: list[str], lead_s: float = 5.0, **setup: Any) -> None:
        self.messages: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.services = FakeServices(FakeAsr(said))
        body = {"model": "models/gemini-2.5-flash-native-audio-preview-09-2025", **setup}
        self.session = LiveSession(parse_setup(body), resolve_model(body["model"]), self.services,  # type: ignore[arg-type]
                                   self._send, SessionOptions(observer=self.events.append, output_lead_s=lead_s))

    async def _send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    async def play(self, audio: np.ndarray) -> None:
        for start in range(0, len(audio), CHUNK):
            pcm = (audio[start : start + CHUNK] * 32767).astype("<i2").tobytes()
            await self.session.handle(AudioChunk(pcm=pcm, rate=RATE))

    async def until(self, kind: str, count: int = 1, timeout_s: float = 5.0) -> None:
        async def wait() -> None:
            while sum(1 for m in self.messages if kind in m.get("serverContent", {})) < count:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(wait(), timeout_s)

    def kinds(self) -> list[str]:
        out = []
        for m in self.messages:
            content = m.get("serverContent", {})
            out.extend(k for k in content if k != "chimein")
        return out

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


@pytest.fixture
def client_factory():
    made: list[Client] = []

    def make(said: list[str], lead_s: float = 5.0, **setup: Any) -> Client:
        client = Client(said, lead_s, **setup)
        made.append(client)
        return client

    yield make


async def test_a_spoken_question_gets_a_spoken_answer(client_factory):
    client = client_factory(["What time is it?"], realtimeInputConfig={}, inputAudioTranscription={},
                            outputAudioTranscription={})
    await client.play(np.concatenate([silence(0.5), speech(1.0), silence(1.0)]))
    await client.until("turnComplete")
    kinds = client.kinds()
    assert kinds[0] == "inputTranscription" and "modelTurn" in kinds
    assert kinds.index("generationComplete") < kinds.index("turnComplete")
    types = client.types()
    assert types.index("end_of_turn_scored") < types.index("transcribed") < types.index("first_audio")
    memory = client.session.memory.recent()
    assert [e.text for e in memory] == ["What time is it?", "It is noon."]
    await client.session.close()


async def test_speech_over_the_answer_interrupts_it_and_is_answered(client_factory):
    said = ["What time is it?", "tell me about trains instead", "Tell me about trains instead."]
    client = client_factory(said, lead_s=0.25)  # paced: the answer is still playing when the listener speaks
    client.services.llm.reply = " ".join(["word"] * 40)  # four seconds of answer
    await client.play(np.concatenate([silence(0.5), speech(1.0), silence(1.0)]))
    while "first_audio" not in client.types():
        await asyncio.sleep(0.01)
    await client.play(np.concatenate([speech(1.5), silence(1.0)]))
    await client.until("interrupted")
    await client.until("turnComplete")  # the interrupted answer's
    while client.types().count("first_audio") < 2:  # the interrupting turn is answered
        await asyncio.sleep(0.01)
    judged = next(e for e in client.events if e["type"] == "overlap_judged")
    assert judged["action"] == "interrupt"
    cut = next(e for e in client.events if e["type"] == "interrupted")
    assert cut["played_s"] < 4.0 and cut["heard"].split() == ["word"] * len(cut["heard"].split())
    kinds = client.kinds()
    assert kinds.index("interrupted") < kinds.index("turnComplete")
    texts = [e.text for e in client.session.memory.recent()]
    assert texts[0] == "What time is it?" and texts[2] == "Tell me about trains instead."
    assert client.session.memory.recent()[1].interrupted and texts[1] == cut["heard"]
    await client.session.close()


async def test_a_text_turn_is_answered_in_text(client_factory):
    client = client_factory(["unused"], generationConfig={"responseModalities": ["TEXT"]})
    await client.session.handle(RealtimeText(text="Hello there"))
    await client.until("turnComplete")
    assert "modelTurn" in client.kinds() and "first_audio" not in client.types()
    await client.session.close()


async def test_client_content_answers_from_memory(client_factory):
    client = client_factory(["unused"])
    (content,) = parse_client_message({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "Hi"}]}],
                                                         "turnComplete": True}})
    assert isinstance(content, ClientContent)
    await client.session.handle(content)
    await client.until("turnComplete")
    assert [e.text for e in client.session.memory.recent()] == ["Hi", "It is noon."]
    await client.session.close()
