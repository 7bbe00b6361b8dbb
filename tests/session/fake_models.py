"""Scripted stand-ins for the models, for tests of the session and the server that need no model.

VAD probabilities follow the audio's level, Smart Turn always says "complete", transcripts are
scripted in order, the LLM streams a fixed reply word by word, TTS makes 0.1 s of tone per word.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chimein.generation.tts import OUTPUT_RATE, SpokenAudio


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
    dropped: str | None = None


@dataclass
class FakeAsr:
    """Transcripts in order, one per call; with ``so_far``, audio that still ends in speech (an
    utterance being spoken, ``PrefillPartial``) gets that instead."""

    said: list[str]
    busy: bool = False  # another session's decode is running or waiting
    so_far: str | None = None
    skipped: int = 0  # calls whose turn was dropped before the recogniser got to them
    partial_calls: int = 0

    def transcribe(self, audio: np.ndarray, *, hotwords: str | None = None, word_timestamps: bool = False,
                   wanted: Callable[[], bool] | None = None, language: str | None = None) -> Words:
        self.hotwords = hotwords  # what the session told the recogniser to expect (#11)
        if wanted is not None and not wanted():
            self.skipped += 1
            return Words("", dropped="unwanted")
        if self.so_far is not None and len(audio) and float(np.abs(audio[-800:]).mean()) > 0.05:
            self.partial_calls += 1
            return Words(self.so_far)
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

    def stream_reply(self, messages: list[Any], *, max_tokens: int, cancel: threading.Event | None = None,
                     conversation: str | None = None) -> Iterator[str]:
        self.prompts.append(messages)
        for word in self.reply.split():
            if cancel is not None and cancel.is_set():
                return
            yield word + " "

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class FakeSynth:
    """A clip of 0.1 s per word (a quiet tone), with word timings."""

    def synthesize(self, text: str, *, first: bool = False) -> SpokenAudio:
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
    judge: Any = None
    second: FakeAsr | None = None  # the second hearing of declined turns (Whisper base), when given

    def second_recogniser(self) -> FakeAsr | None:
        return self.second

    def synthesizer(self, voice_id: str) -> FakeSynth:
        return FakeSynth()

    def own_voice_print(self, voice_id: str) -> np.ndarray:
        return np.ones(4, np.float32) / 2
