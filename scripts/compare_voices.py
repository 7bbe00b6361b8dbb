"""The two answer voices side by side: synthesis time, intelligibility and word-time accuracy.

    .venv/bin/python scripts/compare_voices.py

For each voice (``heart``: hibari, ``joe``: Piper) it voices twenty answer sentences and reports
the synthesis time (median), the word error rate of Whisper tiny.en (beam 5) on them, and how far
the voice's word end times lie from Whisper's word timestamps on the sentences where Whisper
heard the same number of words, next to the same words spread by characters (the fallback).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from faster_whisper import WhisperModel

from chimein.generation.tts import OUTPUT_RATE, _proportional_word_ends, _voiced_span, shared_synthesizer
from chimein.perception.asr import SpeechRecognizer, model_dir
from chimein.perception.audio import resample
from chimein.perception.wer import word_error_rate

SENTENCES = [
    "The capital of France is Paris, a city on the Seine.", "A spider has eight legs, and most have eight eyes.",
    "Romeo and Juliet was written by William Shakespeare.", "Water boils at one hundred degrees Celsius at sea level.",
    "Bees make honey from the nectar of flowers.", "The Pacific is the largest and deepest ocean on Earth.",
    "Sure, I can help with that recipe tonight.", "Mount Everest is the highest mountain in the world.",
    "Let the dough rest for about twenty minutes before you roll it out.",
    "I'm not sure, but a doctor or pharmacist can tell you.", "Knead the dough until it is smooth and springy.",
    "The train to Edinburgh leaves from platform four.", "Add a pinch of salt and a little olive oil.",
    "It takes about eight minutes for sunlight to reach the Earth.",
    "You can freeze fresh gnocchi on a tray, then bag them.", "Check the tyre pressure before a long ride.",
    "A week has seven days and a year has twelve months.", "Turn the oven down to one hundred and eighty degrees.",
    "The meeting starts at half past nine tomorrow morning.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar.",
]


def main() -> None:
    whisper = SpeechRecognizer.shared("tiny.en")
    model = WhisperModel(str(model_dir("tiny.en")), device="cpu", compute_type="int8", cpu_threads=1)
    for voice in ("heart", "joe"):
        synth = shared_synthesizer(voice)
        seconds: list[float] = []
        wers: list[float] = []
        ours: list[float] = []
        spread: list[float] = []
        for sentence in SENTENCES:
            started = time.perf_counter()
            spoken = synth.synthesize(sentence)
            seconds.append(time.perf_counter() - started)
            audio = resample(spoken.pcm.astype(np.float32) / 32768.0, OUTPUT_RATE, 16000)
            wers.append(word_error_rate(sentence, whisper.transcribe(audio, beam_size=5).text))
            segments, _ = model.transcribe(audio, word_timestamps=True, beam_size=5, language="en")
            heard = [w for s in segments for w in s.words]
            words = [w for w, _ in spoken.word_end_s]
            if len(heard) != len(words):
                continue  # "one hundred" heard as "100": the words cannot be paired
            start, end = _voiced_span(spoken.pcm.astype(np.float32), OUTPUT_RATE)
            by_characters = _proportional_word_ends(words, start, end)
            for (_, t), c, h in zip(spoken.word_end_s[:-1], by_characters[:-1], heard[:-1], strict=False):
                ours.append(abs(t - h.end))
                spread.append(abs(c - h.end))
        print(f"{voice}: synthesis median {1000 * statistics.median(seconds):.0f} ms; "
              f"Whisper tiny.en WER {statistics.mean(wers):.3f} ({sum(w > 0 for w in wers)}/{len(wers)} sentences "
              f"with an error); word ends vs Whisper's, {len(ours)} words: median {statistics.median(ours):.3f} s "
              f"(p90 {float(np.percentile(ours, 90)):.3f}), spread by characters {statistics.median(spread):.3f} s "
              f"(p90 {float(np.percentile(spread, 90)):.3f})")


if __name__ == "__main__":
    main()
