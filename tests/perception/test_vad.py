"""Silero VAD on real speech, real noise and synthetic silence/noise."""

from __future__ import annotations

import numpy as np
import pytest

from chimein.perception.vad import SileroVad, VadStream

from .conftest import load_clip

FRAME = VadStream.FRAME_SAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.real_recordings]


def frame_probs(vad: SileroVad, x: np.ndarray) -> np.ndarray:
    stream = vad.stream()
    n = x.size // FRAME
    return np.array([stream.probability(x[i * FRAME : (i + 1) * FRAME]) for i in range(n)])


def test_shared_is_one_model(vad):
    assert SileroVad.shared() is vad
    assert vad.model_path.name == "silero_vad.onnx"


def test_frame_size_is_enforced(vad):
    with pytest.raises(ValueError, match="512"):
        vad.stream().probability(np.zeros(480, np.float32))


@pytest.mark.parametrize(
    "clip", ["speech/jfk_inaugural_1961.wav", "speech/cmu_arctic_aew_a0003.wav", "speech/librivox_sense_and_sensibility_01_austen_64kb-0870.wav"]
)
def test_real_speech_has_speech_frames(vad, real_data, clip):
    p = frame_probs(vad, load_clip(real_data, clip))
    # Read speech with short pauses: most frames are voiced, and long runs of them exist.
    assert (p > 0.5).mean() > 0.5
    longest = max(len(run) for run in "".join("1" if v > 0.5 else "0" for v in p).split("0"))
    assert longest >= 15  # >= 480 ms of continuous speech


def test_synthetic_silence_and_noise_have_no_speech(vad):
    rng = np.random.default_rng(7)
    n = 16000 * 3
    white = rng.normal(0, 0.05, n).astype(np.float32)
    pink = np.cumsum(rng.normal(0, 1, n)).astype(np.float32)
    pink = (pink - np.convolve(pink, np.ones(400) / 400, mode="same")).astype(np.float32)
    pink *= 0.1 / np.abs(pink).max()
    hum = (0.1 * np.sin(2 * np.pi * 50 * np.arange(n) / 16000)).astype(np.float32)
    for x in (np.zeros(n, np.float32), white, pink, hum):
        assert frame_probs(vad, x).max() < 0.5


def test_real_noise_is_not_speech(vad, real_data):
    # Stationary and non-speech noises (fan, bike, city, animals, kitchen, crowd): at most stray
    # frames, never the 5-frame run that ActivityDetector needs to confirm speech.
    for clip in (
        "noise/speechbrain_noise1.wav",
        "noise/speechcommands_exercise_bike_20s.wav",
        "noise/btanks_city_ambience_30s.wav",
        "noise/audiomentations_hens.wav",
        "noise/speechcommands_doing_the_dishes_30s.wav",
        "noise/etw_stadium_crowd01.wav",
    ):
        p = frame_probs(vad, load_clip(real_data, clip))
        assert (p > 0.5).mean() < 0.02, clip
        longest = max(len(run) for run in "".join("1" if v > 0.5 else "0" for v in p).split("0"))
        assert longest < 5, clip


def test_streams_are_independent(vad, real_data):
    speech = load_clip(real_data, "speech/cmu_arctic_aew_a0003.wav")[: 16000 * 2]
    a, b, fresh = vad.stream(), vad.stream(), vad.stream()
    for i in range(speech.size // FRAME):
        a.probability(speech[i * FRAME : (i + 1) * FRAME])  # a is mid-speech; b is untouched
    quiet = np.zeros(FRAME, np.float32)
    assert b.probability(quiet) == pytest.approx(fresh.probability(quiet))
    a.reset()
    assert a.probability(quiet) == pytest.approx(vad.stream().probability(quiet))
