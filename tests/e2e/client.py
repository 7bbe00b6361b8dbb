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

from chimein.bench.live import every_message
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


async def collect_turn(session: Any, record: TurnRecord, done: asyncio.Event, *,
                       words: tuple[str, ...] = (), answered_only: bool = False) -> None:
    """Transcripts, the answer (its audio, its transcript or its text parts), interruptions and the
    turnComplete that ends the turn looked for, then ``done``.

    With ``words``, only a turnComplete after a transcript holding one of them counts (an earlier
    turn may complete late, while this one is being said: a recording's later phrases, declined one
    by one); with ``answered_only``, only one after an answer (a declined turn is not the end).
    """
    messages = every_message(session) if words or answered_only else session.receive()
    async for message in messages:  # every_message: past a declined turn's turnComplete too
        content = message.server_content
        if content is None:
            continue
        if content.input_transcription and content.input_transcription.text:
            record.input_text += content.input_transcription.text
        if content.output_transcription and content.output_transcription.text:
            record.output_text += content.output_transcription.text
        if content.model_turn and content.model_turn.parts:
            for part in content.model_turn.parts:
                record.output_text += part.text or ""
                if part.inline_data is not None:
                    if record.first_audio_at is None:
                        record.first_audio_at = time.monotonic()
                    record.audio.extend(part.inline_data.data or b"")
                    record.mime_types.add(part.inline_data.mime_type or "")
        record.interrupted |= bool(content.interrupted)
        record.generation_complete |= bool(content.generation_complete)
        if not content.turn_complete:
            continue
        if words and not any(w in record.input_text.lower() for w in words):
            record.output_text = ""
            continue
        if answered_only and not (record.output_text.strip() or record.audio):
            continue
        record.turn_complete = True
        record.usage = message.usage_metadata
        record.reason = content.turn_complete_reason
        break
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


class Microphone:
    """A full-duplex client microphone: scheduled speech, room noise, and the loudspeaker's echo.

    Every 100 ms it sends what a real microphone would capture: the participants' speech placed
    at their scheduled times, optional background audio, and (if ``echo_gain_db`` is set) the
    assistant's answer as the client plays it, delayed and attenuated, fed back in.
    """

    def __init__(self, session: Any, *, echo_gain_db: float | None = None, echo_delay_ms: float = 50.0,
                 background: np.ndarray | None = None) -> None:
        self.session = session
        self.echo_gain = None if echo_gain_db is None else 10 ** (echo_gain_db / 20)
        self.echo_delay = int(echo_delay_ms * 16)
        self.background = background
        self.scheduled: list[tuple[int, np.ndarray]] = []  # (start sample, audio)
        self.position = 0  # samples sent
        self.playback = np.zeros(0, np.float32)  # answer audio at 16 kHz on the mic timeline
        self.play_cursor = 0
        self.stop = asyncio.Event()

    def say(self, audio: np.ndarray, at_s: float | None = None) -> tuple[float, float]:
        start = self.position if at_s is None else int(at_s * 16000)
        self.scheduled.append((start, audio))
        return start / 16000, (start + len(audio)) / 16000

    def heard_from_speaker(self, pcm24k: bytes) -> None:
        """The client plays received answer audio as soon as it arrives (after what is queued)."""
        audio = resample(np.frombuffer(pcm24k, "<i2").astype(np.float32) / 32768, 24000, 16000)
        start = max(self.play_cursor, self.position)
        end = start + len(audio)
        if end > len(self.playback):
            self.playback = np.concatenate([self.playback, np.zeros(end - len(self.playback), np.float32)])
        self.playback[start:end] += audio
        self.play_cursor = end

    def flush_playback(self) -> None:
        """What a client does on `interrupted`: stop playing what is queued."""
        self.playback[self.position:] = 0
        self.play_cursor = self.position

    def _chunk(self, n: int) -> np.ndarray:
        lo, hi = self.position, self.position + n
        chunk = np.zeros(n, np.float32)
        for start, audio in self.scheduled:
            a, b = max(lo, start), min(hi, start + len(audio))
            if a < b:
                chunk[a - lo : b - lo] += audio[a - start : b - start]
        if self.background is not None:
            idx = np.arange(lo, hi) % len(self.background)
            chunk += self.background[idx]
        if self.echo_gain is not None:
            src_lo, src_hi = lo - self.echo_delay, hi - self.echo_delay
            a, b = max(src_lo, 0), min(src_hi, len(self.playback))
            if a < b:
                chunk[a - src_lo : b - src_lo] += self.echo_gain * self.playback[a:b]
        return chunk

    async def run(self, seconds: float) -> None:
        """Stream `seconds` of microphone audio in real time (or until `stop` is set)."""
        step = int(CHUNK_S * 16000)
        started = time.monotonic()
        for n in range(int(seconds / CHUNK_S)):
            if self.stop.is_set():
                return
            chunk = self._chunk(step)
            self.position += step
            await self.session.send_realtime_input(audio=types.Blob(data=pcm16(chunk), mime_type="audio/pcm;rate=16000"))
            delay = started + (n + 1) * CHUNK_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
