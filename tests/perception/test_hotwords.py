"""Hints (an instruction's names and wake phrases) must not cost the words they hint at.

Whisper reads hotwords as the text said just before; speech that opens with the same words then
looks like a repeat and was left out ("Ok computer, what is ..." heard as "What is ..."), so a
wake-phrase question went unanswered in the bench. Synthetic voices that ship with chimein (Piper
samples noise, so a clip differs a little between syntheses: the test counts, with room for that
and for int8 kernels differing between CPUs). Measured on this project's 2-core EPYC: 19/20 and
20/20 openings kept with ``HOTWORDS_TAIL``, 15/20 and 17/20 without it."""

from __future__ import annotations

import numpy as np
import pytest

from chimein.bench.voices import speak
from chimein.perception.asr import SpeechRecognizer

pytestmark = pytest.mark.slow

OPENINGS = [  # (speech, the hinted word it opens with, the hint line)
    ("Ok computer, what is the capital of Australia?", "computer", "Ok computer."),
    ("Hey chef, how long should I boil the pasta?", "chef", "Hey chef."),
    ("Hey Nova, can you set a timer for ten minutes?", "nova", "Hey Nova."),
    ("Okay Marvin, remind me to call my mother.", "marvin", "Okay Marvin."),
    ("Hey Sage, what should I plant in spring?", "sage", "Hey Sage."),
]
VOICES = ("joe", "heart", "joe-high", "heart-low")


def test_speech_that_opens_with_the_hint_keeps_it() -> None:
    asr = SpeechRecognizer.shared("tiny.en")
    pad = np.zeros(4000, np.float32)
    lost = []
    for voice in VOICES:
        for text, word, hint in OPENINGS:
            audio = np.concatenate([pad, speak(text, voice).astype(np.float32), pad])
            heard = asr.transcribe(audio, hotwords=hint).text
            if word not in heard.lower():
                lost.append((voice, heard))
    assert len(lost) <= 3, lost
