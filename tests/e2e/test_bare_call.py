"""A call followed by its request ("OK computer. What is the capital of Australia?"), through the SDK.

With a pause of 0.6 s after the call, the call alone ends a turn, and it calls the
assistant. It was answered at once, and the question was said over that answer (0.8 s after the
call, in the bench's runner, the question was then lost: cut into a barge-in, "Capital of
Australia", declined for want of the wake phrase, or ignored as overlap). Now a spoken call alone
waits a moment (policy/endpointing.py ``CALL_WAIT_S``); the question begins meanwhile, and call
and question are one turn with one answer.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from google.genai import types

from chimein.bench.dsp import voiced_span
from tests.e2e.client import MODEL, TurnRecord, collect_turn, sdk_client, send_audio, speech_16k

pytestmark = pytest.mark.slow

WAKE = "Respond only when someone says 'OK computer'."


def _voiced(audio: np.ndarray) -> np.ndarray:
    start, end = voiced_span(audio, floor_db=-35.0)
    return audio[start:end]


async def test_the_request_after_a_bare_call_is_one_turn_with_one_answer(server):
    gap = np.zeros(int(0.6 * 16000), np.float32)  # the question follows the call after 0.6 s
    line = np.concatenate([_voiced(speech_16k("OK computer.", voice="joe")), gap,
                           speech_16k("What is the capital of Australia?", voice="joe")])
    config = types.LiveConnectConfig(response_modalities=["TEXT"], system_instruction=WAKE,
                                     proactivity=types.ProactivityConfig(proactive_audio=True),
                                     input_audio_transcription=types.AudioTranscriptionConfig())
    record, done = TurnRecord(), asyncio.Event()
    async with sdk_client(server).aio.live.connect(model=MODEL, config=config) as session:
        receiver = asyncio.create_task(collect_turn(session, record, done, answered_only=True))
        await send_audio(session, line)
        await send_audio(session, np.zeros(int(3.0 * 16000), np.float32), stop=done)
        try:
            await asyncio.wait_for(done.wait(), 150.0)  # generous: a loaded 2-core machine
        except TimeoutError:
            pass
        finally:
            receiver.cancel()
    heard = record.input_text.lower()
    assert record.turn_complete, f"no answer; heard {record.input_text!r}"
    assert "computer" in heard and "australia" in heard, f"answered {record.output_text!r} after hearing {heard!r}"
    assert not record.interrupted, f"an answer to the call alone went out and was cut: {record.output_text!r}"
