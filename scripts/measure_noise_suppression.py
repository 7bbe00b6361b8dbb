"""Does noise suppression before Whisper help recognition? (issue #5 asks to add it only where it does)

    .venv/bin/python scripts/measure_noise_suppression.py      # needs ../shared/data/real (the noise)

Renders the bench's noisy scenes (`noise-*db`: kitchen 10 dB, crowd 5 dB, city 0 dB, real read
speech at 5 and 0 dB), and transcribes each participant line with Whisper tiny.en from the raw
mix and from the mix after WebRTC noise suppression (the AudioProcessingModule in the livekit
wheel chimein already ships, run over the whole scene so it can adapt). Prints corpus WER.
"""

from __future__ import annotations

import numpy as np
from livekit.rtc import AudioFrame, AudioProcessingModule

from chimein.bench.builder import render
from chimein.bench.scenario import default_scenario_dir, load_scenarios
from chimein.perception.asr import SpeechRecognizer
from chimein.perception.wer import word_errors

FRAME = 160


def suppressed(audio: np.ndarray) -> np.ndarray:
    apm = AudioProcessingModule(noise_suppression=True, high_pass_filter=True)
    out = np.empty(len(audio) // FRAME * FRAME, np.float32)
    for i in range(0, len(out), FRAME):
        pcm = (np.clip(audio[i : i + FRAME], -1, 1) * 32767).astype(np.int16)
        frame = AudioFrame(pcm.tobytes(), 16000, 1, FRAME)
        apm.process_stream(frame)
        out[i : i + FRAME] = np.frombuffer(bytes(frame.data), np.int16).astype(np.float32) / 32768
    return out


def main() -> None:
    asr = SpeechRecognizer.shared()
    totals = {"raw": [0, 0], "noise-suppressed": [0, 0]}
    for scenario in load_scenarios(default_scenario_dir()):
        if not (scenario.id.startswith("noise-") and scenario.id.endswith("db")):
            continue
        scene = render(scenario)
        versions = {"raw": scene.audio, "noise-suppressed": suppressed(scene.audio)}
        for label in scene.labels:
            if label.kind != "speech" or not label.reference:
                continue
            start, end = int(max(0.0, label.start_s - 0.3) * 16000), int((label.speech_end_s + 0.3) * 16000)
            for name, audio in versions.items():
                errors, words = word_errors(label.reference, asr.transcribe(audio[start:end]).text)
                totals[name][0] += errors
                totals[name][1] += words
    for name, (errors, words) in totals.items():
        print(f"{name:>17}: WER {errors / max(words, 1):.1%} over {words} words")


if __name__ == "__main__":
    main()
