"""Hints (an instruction's names and wake phrases) must not cost the words they hint at.

Whisper reads hotwords as the text said just before; speech that opens with the same words then
looks like a repeat and was left out ("Ok computer, what is ..." heard as "What is ..."), so a
wake-phrase question went unanswered in the bench. Synthetic voices that ship with chimein."""

from __future__ import annotations

import numpy as np
import pytest

from chimein.bench.voices import speak
from chimein.perception.asr import SpeechRecognizer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("voice", ["joe", "heart"])
def test_speech_that_opens_with_the_hint_keeps_it(voice: str) -> None:
    asr = SpeechRecognizer.shared("tiny.en")
    pad = np.zeros(4000, np.float32)
    audio = np.concatenate([pad, speak("Ok computer, what is the capital of Australia?", voice).astype(np.float32), pad])
    text = asr.transcribe(audio, hotwords="Ok computer.").text.lower()
    assert "computer" in text and "australia" in text, text
