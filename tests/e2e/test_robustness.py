"""Issue 5 through the real SDK: noise, chatter, back-channels, interruptions and the assistant's own voice."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import websockets
from google.genai import types

from chimein.bench.scenario import ENROL_TEXT
from chimein.bench.voices import speak
from chimein.perception.audio import decode_audio_file, resample
from chimein.perception.wer import word_error_rate
from tests.e2e.client import MODEL, Microphone, sdk_client, speech_16k

pytestmark = pytest.mark.slow

CONFIG = types.LiveConnectConfig(
    response_modalities=["AUDIO"],
    input_audio_transcription=types.AudioTranscriptionConfig(),
    output_audio_transcription=types.AudioTranscriptionConfig(),
)
# Telling a TV or side talk from the people at the table is part of Proactive Audio: with it off,
# chimein answers every completed turn, as the Live API does (issue #11).
PROACTIVE_CONFIG = types.LiveConnectConfig(
    response_modalities=["AUDIO"],
    system_instruction="You are a helpful, friendly assistant.",
    proactivity=types.ProactivityConfig(proactive_audio=True),
    input_audio_transcription=types.AudioTranscriptionConfig(),
    output_audio_transcription=types.AudioTranscriptionConfig(),
)


@dataclass
class Log:
    """Everything the server sent, in order, with the mic position (s) when it arrived."""

    items: list[tuple[float, str, Any]] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [k for _, k, _ in self.items]

    def text(self, kind: str) -> str:
        return "".join(v for _, k, v in self.items if k == kind)

    def first(self, kind: str) -> float | None:
        return next((t for t, k, _ in self.items if k == kind), None)


async def listen(session: Any, mic: Microphone, log: Log) -> None:
    while True:
        async for message in session.receive():
            content = message.server_content
            now = mic.position / 16000
            if content is None:
                continue
            if content.input_transcription and content.input_transcription.text:
                log.items.append((now, "input", content.input_transcription.text))
            if content.output_transcription and content.output_transcription.text:
                log.items.append((now, "output", content.output_transcription.text))
            for part in (content.model_turn.parts if content.model_turn and content.model_turn.parts else []):
                if part.inline_data and part.inline_data.data:
                    mic.heard_from_speaker(part.inline_data.data)
                    log.items.append((now, "audio", len(part.inline_data.data) // 2))
            if content.interrupted:
                mic.flush_playback()
                log.items.append((now, "interrupted", True))
            if content.turn_complete:
                log.items.append((now, "turn_complete", str(content.turn_complete_reason or "")))


async def conversation(server, mic_setup, script, seconds: float, config=CONFIG) -> Log:
    """Run a timed conversation: `script(mic, log)` schedules speech while the mic streams."""
    log = Log()
    async with sdk_client(server).aio.live.connect(model=MODEL, config=config) as session:
        mic = mic_setup(session)
        receiver = asyncio.create_task(listen(session, mic, log))
        director = asyncio.create_task(script(mic, log))
        await mic.run(seconds)
        director.cancel()
        receiver.cancel()
    return log


def _level(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


def _scaled(audio: np.ndarray, rms: float) -> np.ndarray:
    return (audio * (rms / max(_level(audio), 1e-9))).astype(np.float32)


def _real(real_data, name: str) -> np.ndarray:
    audio, rate = decode_audio_file((real_data / name).read_bytes(), None)
    return resample(audio, rate, 16000)


@pytest.mark.real_recordings
@pytest.mark.parametrize("noise", ["noise/speechcommands_doing_the_dishes_30s.wav", "noise/btanks_city_ambience_30s.wav",
                                   "noise/speechcommands_exercise_bike_20s.wav"])
async def test_noise_alone_never_makes_a_turn(server, real_data, noise):
    background = _scaled(_real(real_data, noise), 0.05)  # a loud room: -26 dBFS RMS

    async def script(mic, log):
        return

    log = await conversation(server, lambda s: Microphone(s, background=background), script, seconds=8)
    assert log.kinds() == [], log.items


@pytest.mark.real_recordings
async def test_question_under_kitchen_noise_is_answered(server, real_data):
    question = "What is the capital of Italy?"
    speech = speech_16k(question)
    noise = _scaled(_real(real_data, "noise/speechcommands_doing_the_dishes_30s.wav"), _level(speech) / 10 ** (5 / 20))

    async def script(mic, log):
        await asyncio.sleep(1.0)
        mic.say(speech)

    log = await conversation(server, lambda s: Microphone(s, background=noise), script, seconds=11)
    assert "turn_complete" in log.kinds() and "audio" in log.kinds(), log.items
    assert word_error_rate(question, log.text("input")) <= 0.4, log.text("input")


def _chatter(audio: np.ndarray) -> np.ndarray:
    """A TV across the room: low-passed and reverberant (Full-Duplex-Bench v1.5 style)."""
    kernel = np.ones(6, np.float32) / 6  # crude low-pass (~2.6 kHz first null)
    rng = np.random.default_rng(7)
    ir = np.zeros(3200, np.float32)
    ir[0] = 1.0
    ir[1:] = rng.standard_normal(3199) * np.exp(-np.arange(3199) / 900.0) * 0.25
    return np.convolve(np.convolve(audio, kernel, mode="same"), ir)[: len(audio)].astype(np.float32)


async def test_tv_chatter_neither_triggers_nor_interrupts(server):
    question = speech_16k("What is the capital of Spain?")
    tv = _chatter(speech_16k("Tonight's top story: what will the weather be like tomorrow? Stay with us after the break.", "joe"))
    tv = _scaled(tv, _level(question) * 10 ** (-15 / 20))

    async def script(mic, log):
        await asyncio.sleep(0.5)
        mic.say(question)
        while log.first("audio") is None:
            await asyncio.sleep(0.05)
        mic.say(tv)  # the TV talks over the answer...
        await asyncio.sleep(9)
        mic.say(tv)  # ...and again while everyone is quiet

    log = await conversation(server, lambda s: Microphone(s), script, seconds=24, config=PROACTIVE_CONFIG)
    assert log.kinds().count("turn_complete") == 1, log.items
    assert "interrupted" not in log.kinds()


async def test_side_talk_is_ignored_once_the_household_is_enrolled(server, tmp_path):
    """Side talk at -8 dB before anyone has spoken: only enrolment says who the participants are."""
    question = speech_16k("What is the capital of France?")  # heart, the enrolled voice
    sample = tmp_path / "household.wav"
    sf.write(sample, _scaled(speak(ENROL_TEXT, "heart"), _level(question)), 16000)
    voices = ["--dir", str(server.home / "voices")]
    enrol = subprocess.run([sys.executable, "-m", "chimein.cli", "voices", *voices, "add", "household", str(sample)],
                           capture_output=True, text=True, timeout=120)
    assert enrol.returncode == 0, enrol.stderr
    side_talk = _scaled(speak("What time does the store close today?", "joe-high"), _level(question) * 10 ** (-8 / 20))

    async def script(mic, log):
        await asyncio.sleep(0.5)
        mic.say(side_talk)
        await asyncio.sleep(4.0)
        mic.say(question)

    try:
        log = await conversation(server, lambda s: Microphone(s), script, seconds=14, config=PROACTIVE_CONFIG)
    finally:
        subprocess.run([sys.executable, "-m", "chimein.cli", "voices", *voices, "remove", "household"], timeout=120)
    heard = log.text("input").lower()
    assert "store" not in heard and "france" in heard, log.items
    assert log.kinds().count("turn_complete") == 1, log.items


async def _interrupt_scenario(server, interjection: np.ndarray) -> Log:
    question = speech_16k("Tell me a long story about a brave knight and a dragon.")

    async def script(mic, log):
        await asyncio.sleep(0.5)
        mic.say(question)
        while log.first("audio") is None:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        mic.say(interjection)

    return await conversation(server, lambda s: Microphone(s), script, seconds=16)


async def test_backchannel_does_not_interrupt(server):
    log = await _interrupt_scenario(server, speech_16k("Uh-huh.", "joe"))
    assert "interrupted" not in log.kinds(), log.items
    assert log.kinds().count("turn_complete") == 1


async def test_real_interruption_stops_the_answer(server):
    log = await _interrupt_scenario(server, speech_16k("Wait, stop.", "joe"))
    kinds = log.kinds()
    assert "interrupted" in kinds, log.items
    assert kinds.index("turn_complete") > kinds.index("interrupted")
    stopped_at = log.first("interrupted")
    assert not [t for t, k, _ in log.items if k == "audio" and t > stopped_at + 0.2]


async def test_own_voice_played_back_triggers_nothing(server):
    question = speech_16k("How many days are there in a week?")

    async def script(mic, log):
        await asyncio.sleep(0.5)
        mic.say(question)

    log = await conversation(server, lambda s: Microphone(s, echo_gain_db=-10, echo_delay_ms=50), script, seconds=14)
    assert log.kinds().count("turn_complete") == 1, log.items
    assert "interrupted" not in log.kinds()
    assert log.kinds().count("input") == 1


class _RawSession:
    """The same microphone over a raw WebSocket that also asks for chimein's event stream."""

    def __init__(self, ws):
        self.ws = ws

    async def send_realtime_input(self, audio):
        data = base64.b64encode(audio.data).decode()
        await self.ws.send(json.dumps({"realtimeInput": {"audio": {"data": data, "mimeType": audio.mime_type}}}))


async def test_interrupted_answer_is_remembered_up_to_the_cut(server):
    path = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?chimein_events=1"
    async with websockets.connect(server.plain_url + path) as ws:
        await ws.send(json.dumps({"setup": {"model": f"models/{MODEL}", "outputAudioTranscription": {}}}))
        json.loads(await ws.recv())
        mic = Microphone(_RawSession(ws))
        received_samples, transcript, events = 0, "", []
        mic.say(speech_16k("Tell me a long story about a brave knight and a dragon."), at_s=0.5)

        async def receive():
            nonlocal received_samples, transcript
            async for frame in ws:
                message = json.loads(frame)
                content = message.get("serverContent", {})
                for part in content.get("modelTurn", {}).get("parts", []):
                    pcm = base64.b64decode(part["inlineData"]["data"])
                    received_samples += len(pcm) // 2
                    mic.heard_from_speaker(pcm)
                    if received_samples >= 24000 * 1.5 and not mic.scheduled[1:]:
                        mic.say(speech_16k("Wait, stop, that's enough.", "joe"))
                transcript += content.get("outputTranscription", {}).get("text", "")
                if "chimeinEvent" in message:
                    events.append(message["chimeinEvent"])

        receiver = asyncio.create_task(receive())
        await mic.run(14)
        receiver.cancel()
    cut = next(e for e in events if e["type"] == "interrupted")
    # Memory holds exactly the words the listener heard: a prefix of what was sent, ending where the audio stopped.
    heard = cut["heard"].split()
    assert heard, cut
    assert transcript.split()[: len(heard)] == heard
    assert cut["played_s"] <= received_samples / 24000 + 0.05
    assert len(heard) < len(transcript.split()) or cut["played_s"] < received_samples / 24000
