"""A name the small recogniser mishears, heard again (#11), through the public SDK.

Even told the assistant's name, Whisper tiny.en hears this quiet "Hey Juno, play ..." as "Hey, do
you know play ..." on the machines measured; the turn would be declined for want of the name.
Declined turns under an instruction with names get a second hearing by Whisper base while the
recognisers are idle: it hears "Hey Juno", the turn is answered, and the client's transcript is
the words that were answered. (Where tiny.en hears the name itself, the turn is answered all the
same: the test asserts the outcome, not which recogniser got it.)
"""

from __future__ import annotations

import pytest
from google.genai import types

from tests.e2e.client import MODEL, sdk_client, speech_16k
from tests.e2e.test_never_deaf import _answered, _at_level, _spoken_turn

pytestmark = pytest.mark.slow

NAMED = "Your name is Juno. Only respond when someone addresses you by name."


def _config() -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=["TEXT"],
        system_instruction=NAMED,
        proactivity=types.ProactivityConfig(proactive_audio=True),
        input_audio_transcription=types.AudioTranscriptionConfig(),
    )


async def test_a_misheard_name_is_heard_again_and_answered(server):
    call = _at_level(speech_16k("Hey Juno, play some quiet music.", voice="heart"), -40.0)
    async with sdk_client(server).aio.live.connect(model=MODEL, config=_config()) as session:
        record = await _spoken_turn(session, call, timeout_s=150.0)
    assert _answered(record), f"heard {record.input_text!r}, reason {record.reason}"
    assert "juno" in record.input_text.lower(), record.input_text  # the words that were answered


async def test_a_question_that_names_nobody_stays_unanswered_after_a_second_hearing(server):
    question = _at_level(speech_16k("Do you know how long the pasta needs?", voice="heart"), -26.0)
    async with sdk_client(server).aio.live.connect(model=MODEL, config=_config()) as session:
        record = await _spoken_turn(session, question, timeout_s=150.0)
    assert record.turn_complete and "REJECTED" in str(record.reason), (record.input_text, record.reason)
