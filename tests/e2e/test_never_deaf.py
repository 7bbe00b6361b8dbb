"""Never deaf (#11): loudness is at most a tie-breaker, through the public SDK.

Proactive audio off is a plain voice assistant: every completed turn of speech is answered,
whoever says it and however far from the microphone (only the assistant's own echo may be
dropped). Proactive audio on: a quieter participant's on-topic question after a loud
recording is answered (the recording must not become the participants' reference level).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from google.genai import types

from chimein.perception.audio import decode_audio_file, resample
from chimein.perception.levels import speech_level_db
from tests.conftest import REAL_DATA
from tests.e2e.client import MODEL, TurnRecord, collect_turn, sdk_client, send_audio, speech_16k

pytestmark = [pytest.mark.slow, pytest.mark.real_recordings]

# Ten different people (LibriSpeech, CMU ARCTIC, VCTK, LJ Speech, LibriVox, Harvard, IVR prompts),
# each at the level of its own recording: 7-17 dB apart, as people near and far from a microphone.
TEN_SPEAKERS = (
    "speech/cmu_arctic_aew_a0001.wav",
    "speech/librispeech_test-other_1688-142285-0006.wav",
    "speech/cmu_arctic_axb_a0004.wav",
    "speech/vctk_p286_011.wav",
    "speech/harvard_birch_canoe.wav",
    "speech/ljspeech_LJ050-0131.wav",
    "speech/pocketsphinx_goforward.wav",
    "speech/librispeech_test-other_3080-5032-0008.wav",
    "speech/asterisk_allison_vm-nobodyavail.wav",
    "speech/librivox_sense_and_sensibility_01_austen_64kb-0880.wav",
)


async def _spoken_turn(session, audio: np.ndarray, *, timeout_s: float, words: tuple[str, ...] = ()) -> TurnRecord:
    """Say ``audio``, keep the microphone open with silence, wait for the turn to complete."""
    record, done = TurnRecord(), asyncio.Event()
    receiver = asyncio.create_task(collect_turn(session, record, done, words=words))
    await send_audio(session, audio)
    await send_audio(session, np.zeros(int(3.0 * 16000), np.float32), stop=done)
    try:
        await asyncio.wait_for(done.wait(), timeout_s)
    except TimeoutError:
        pass
    finally:
        receiver.cancel()
    return record


def _answered(record: TurnRecord) -> bool:
    return record.turn_complete and bool(record.output_text.strip()) and "REJECTED" not in str(record.reason or "")


def _recording(path: str) -> np.ndarray:
    audio, rate = decode_audio_file((REAL_DATA / path).read_bytes(), None)
    return resample(audio, rate, 16000).astype(np.float32)


def _at_level(audio: np.ndarray, dbfs: float) -> np.ndarray:
    return (audio * 10 ** ((dbfs - speech_level_db(audio)) / 20)).astype(np.float32)


async def test_proactive_off_answers_ten_real_speakers_at_their_own_levels(server, real_data):
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"],
        system_instruction="You are a helpful assistant. Answer in one short sentence.",
        input_audio_transcription=types.AudioTranscriptionConfig(),
    )
    clips = [_recording(path) for path in TEN_SPEAKERS]
    levels = [speech_level_db(c) for c in clips]
    assert max(levels) - min(levels) >= 7.0, f"the recordings should span people near and far: {levels}"
    unanswered = []
    async with sdk_client(server).aio.live.connect(model=MODEL, config=config) as session:
        for path, clip, level in zip(TEN_SPEAKERS, clips, levels, strict=True):
            # Generous: on a loaded 2-core machine an answer can take a minute; the point is that it comes.
            record = await _spoken_turn(session, clip, timeout_s=150.0)
            if not _answered(record):
                unanswered.append(f"{path} ({level:.0f} dBFS): heard {record.input_text!r}, "
                                  f"turnComplete {record.turn_complete}, reason {record.reason}")
    assert not unanswered, f"{len(unanswered)} of 10 people got no answer: {unanswered}"


async def test_quiet_on_topic_question_after_a_loud_recording_is_answered(server, real_data):
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"],
        system_instruction="You are an AI assistant in Italian cooking; only chime in when the topic is about Italian cooking.",
        proactivity=types.ProactivityConfig(proactive_audio=True),
        input_audio_transcription=types.AudioTranscriptionConfig(),
    )
    # A loud recording (a radio, a video on a phone) 10 dB above the person who then asks.
    loud = _at_level(_recording("speech/librispeech_test-other_2033-164914-0000.wav"), -16.0)
    question = _at_level(speech_16k("How long should I cook fresh pasta for lasagna?", voice="heart"), -26.0)
    async with sdk_client(server).aio.live.connect(model=MODEL, config=config) as session:
        # The recording may be kept as co-listened, declined or dropped: either way not answered.
        await _spoken_turn(session, loud, timeout_s=90.0)
        record = await _spoken_turn(session, question, timeout_s=150.0, words=("pasta", "lasagna", "lasagne"))
    assert _answered(record), (
        f"the on-topic question was not answered: heard {record.input_text!r}, reason {record.reason}"
    )

