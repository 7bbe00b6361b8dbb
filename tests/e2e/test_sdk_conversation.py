"""The unmodified google-genai SDK holds a spoken conversation with a real `chimein serve`."""

from __future__ import annotations

import asyncio
import math
import re

import numpy as np
import pytest
from google.genai import errors, types

from chimein.perception.audio import decode_audio_file, resample
from chimein.perception.wer import word_error_rate
from tests.e2e.client import MODEL, VERTEX_MODEL, sdk_client, speech_16k, spoken_turn

pytestmark = pytest.mark.slow

AUDIO_CONFIG = types.LiveConnectConfig(
    response_modalities=["AUDIO"],
    input_audio_transcription=types.AudioTranscriptionConfig(),
    output_audio_transcription=types.AudioTranscriptionConfig(),
)


def _check_answer(record, *, question: str) -> None:
    assert record.turn_complete, "no turnComplete"
    assert record.generation_complete, "no generationComplete before turnComplete"
    assert record.mime_types == {"audio/pcm;rate=24000"}
    seconds = len(record.audio) / 2 / 24000
    assert seconds > 0.5, f"answer audio too short: {seconds:.2f}s"
    assert record.output_text.strip(), "no output transcription"
    assert word_error_rate(question, record.input_text) <= 0.35, record.input_text
    usage = record.usage
    assert usage is not None
    sent_tokens = math.ceil(record.samples_sent * 32 / 16000)  # a started 1/32 s is a whole token
    prompt_audio = next(d.token_count for d in usage.prompt_tokens_details if d.modality == types.MediaModality.AUDIO)
    # Chunks still in flight when turnComplete left the server: at most one 100 ms chunk.
    assert 0 <= sent_tokens - prompt_audio <= math.ceil(32 * 0.1), (sent_tokens, prompt_audio)
    response_audio = next(d.token_count for d in usage.response_tokens_details if d.modality == types.MediaModality.AUDIO)
    assert abs(response_audio - seconds * 32) <= 1
    assert usage.total_token_count == usage.prompt_token_count + usage.response_token_count


async def test_spoken_question_gets_a_spoken_answer(server):
    question = "What is the capital of France?"
    client = sdk_client(server)
    async with client.aio.live.connect(model=MODEL, config=AUDIO_CONFIG) as session:
        assert session.session_id
        record = await spoken_turn(session, speech_16k(question))
    _check_answer(record, question=question)


async def test_vertex_client_gets_candidates_spelling(server):
    question = "How many legs does a spider have?"
    client = sdk_client(server, vertex=True)
    async with client.aio.live.connect(model=VERTEX_MODEL, config=AUDIO_CONFIG) as session:
        record = await spoken_turn(session, speech_16k(question, voice="joe"))
    _check_answer(record, question=question)
    assert record.usage.response_token_count > 0  # arrives as candidatesTokenCount for Vertex


@pytest.mark.real_recordings
async def test_real_recorded_speech_is_transcribed_and_answered(server, real_data):
    audio, rate = decode_audio_file((real_data / "speech" / "pocketsphinx_goforward.wav").read_bytes(), "audio/wav")
    client = sdk_client(server, api_version="v1alpha")
    async with client.aio.live.connect(model=MODEL, config=AUDIO_CONFIG) as session:
        record = await spoken_turn(session, resample(audio, rate, 16000))
    _check_answer(record, question="go forward ten meters")


async def test_text_turn_and_text_modality(server):
    client = sdk_client(server)
    config = types.LiveConnectConfig(response_modalities=["TEXT"])
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="Say hello.")]))
        texts, usage = [], None
        async for message in session.receive():
            if message.text:
                texts.append(message.text)
            if message.server_content and message.server_content.turn_complete:
                usage = message.usage_metadata
    assert "".join(texts).strip()
    assert usage.prompt_token_count > 0 and usage.response_token_count > 0


@pytest.mark.parametrize(
    ("model", "pattern"),
    [
        ("gemini-live-2.5-flash-preview-native-audio", r"discontinued.*gemini-live-2\.5-flash-preview-native-audio-09-2025"),
        ("gemini-1.0-pro", r"unknown model; supported: gemini-live-2\.5-flash-preview-native-audio-09-2025"),
    ],
)
async def test_refused_models_surface_as_api_error_1008(server, model, pattern):
    client = sdk_client(server)
    with pytest.raises(errors.APIError) as caught:
        async with client.aio.live.connect(model=model, config=AUDIO_CONFIG):
            pass
    assert caught.value.code == 1008
    assert re.search(pattern, str(caught.value.details) + str(caught.value))


async def test_sessions_do_not_block_each_other(server):
    client = sdk_client(server)
    question_a, question_b = "What colour is the sky?", "What is two plus two?"

    async def ask(question: str, voice: str):
        async with client.aio.live.connect(model=MODEL, config=AUDIO_CONFIG) as session:
            return await spoken_turn(session, speech_16k(question, voice=voice))

    first, second = await asyncio.gather(ask(question_a, "heart"), ask(question_b, "joe"))
    _check_answer(first, question=question_a)
    _check_answer(second, question=question_b)
    assert np.frombuffer(bytes(first.audio), "<i2").std() > 100
