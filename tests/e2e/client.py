"""Test helpers that talk to a running chimein server through the public google-genai SDK only."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from google import genai
from google.genai import types

from chimein.generation.tts import shared_synthesizer
from chimein.perception.audio import resample

MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"
VERTEX_MODEL = "gemini-live-2.5-flash-preview-native-audio-09-2025"
CHUNK_S = 0.1


def sdk_client(server: Any, *, vertex: bool = False, api_key: str = "test-key", api_version: str | None = None) -> genai.Client:
    options = types.HttpOptions(
        base_url=server.base_url,
        api_version=api_version,
        async_client_args={"ssl": ssl.create_default_context(cafile=str(server.cert))},
    )
    return genai.Client(api_key=api_key, vertexai=vertex, http_options=options)


def speech_16k(text: str, voice: str = "heart") -> np.ndarray:
    """Speech synthesised with chimein's own voices, at the 16 kHz the Live API takes."""
    clip = shared_synthesizer(voice).synthesize(text)
    return resample(clip.pcm.astype(np.float32) / 32768.0, 24000, 16000)


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


@dataclass
class TurnRecord:
    input_text: str = ""
    output_text: str = ""
    audio: bytearray = field(default_factory=bytearray)
    mime_types: set[str] = field(default_factory=set)
    usage: Any = None
    reason: Any = None
    interrupted: bool = False
    generation_complete: bool = False
    turn_complete: bool = False
    first_audio_at: float | None = None
    speech_end_at: float | None = None
    samples_sent: int = 0

    @property
    def latency_s(self) -> float | None:
        if self.first_audio_at is None or self.speech_end_at is None:
            return None
        return self.first_audio_at - self.speech_end_at


async def send_audio(session: Any, audio: np.ndarray, *, realtime: float = 1.0, stop: asyncio.Event | None = None) -> int:
    """Stream 100 ms chunks at `realtime` x real-time speed; returns samples sent."""
    step = int(CHUNK_S * 16000)
    sent = 0
    started = time.monotonic()
    for n, i in enumerate(range(0, len(audio), step)):
        if stop is not None and stop.is_set():
            break
        chunk = audio[i : i + step]
        await session.send_realtime_input(audio=types.Blob(data=pcm16(chunk), mime_type="audio/pcm;rate=16000"))
        sent += len(chunk)
        delay = started + (n + 1) * CHUNK_S / realtime - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    return sent


async def collect_turn(session: Any, record: TurnRecord, done: asyncio.Event) -> None:
    async for message in session.receive():
        content = message.server_content
        if content is None:
            continue
        if content.input_transcription and content.input_transcription.text:
            record.input_text += content.input_transcription.text
        if content.output_transcription and content.output_transcription.text:
            record.output_text += content.output_transcription.text
        if content.model_turn and content.model_turn.parts:
            for part in content.model_turn.parts:
                if part.inline_data is not None:
                    if record.first_audio_at is None:
                        record.first_audio_at = time.monotonic()
                    record.audio.extend(part.inline_data.data or b"")
                    record.mime_types.add(part.inline_data.mime_type or "")
        if content.interrupted:
            record.interrupted = True
        if content.generation_complete:
            record.generation_complete = True
        if content.turn_complete:
            record.turn_complete = True
            record.usage = message.usage_metadata
            record.reason = content.turn_complete_reason
    done.set()


async def spoken_turn(session: Any, audio: np.ndarray, *, silence_s: float = 2.0, timeout_s: float = 60.0) -> TurnRecord:
    """Say `audio`, keep the microphone open with silence, and collect the server's whole turn."""
    record = TurnRecord()
    done = asyncio.Event()
    receiver = asyncio.create_task(collect_turn(session, record, done))
    record.samples_sent += await send_audio(session, audio)
    record.speech_end_at = time.monotonic()
    silence = np.zeros(int(silence_s * 16000), np.float32)
    record.samples_sent += await send_audio(session, silence, stop=done)
    try:
        await asyncio.wait_for(done.wait(), timeout_s)
    finally:
        receiver.cancel()
    return record
