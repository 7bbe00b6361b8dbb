"""Smart Turn v3 on real speech: complete sentences vs the same audio cut mid-phrase."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from chimein.perception.turn import SmartTurn, find_smart_turn_model, whisper_log_mel
from chimein.perception.vad import VadStream

from .conftest import load_clip, silence

FRAME = VadStream.FRAME_SAMPLES

# Complete read sentences with known transcripts (MANIFEST.tsv).
SENTENCES = [
    "speech/jfk_inaugural_1961.wav",
    "speech/cmu_arctic_aew_a0001.wav",
    "speech/cmu_arctic_aew_a0002.wav",
    "speech/cmu_arctic_aew_a0003.wav",
    "speech/cmu_arctic_axb_a0005.wav",
    "speech/cmu_arctic_axb_a0006.wav",
    "speech/librivox_sense_and_sensibility_01_austen_64kb-0870.wav",
    "speech/librivox_sense_and_sensibility_01_austen_64kb-0890.wav",
    "speech/librivox_sense_and_sensibility_01_austen_64kb-0920.wav",
    "speech/asterisk_allison_conf-onlyperson.wav",
    "speech/asterisk_allison_vm-nobodyavail.wav",
    "speech/harvard_birch_canoe.wav",
]
PAUSE = silence(0.2)  # what ActivityDetector hands over: ~200 ms of silence after the speech

pytestmark = [pytest.mark.slow, pytest.mark.real_recordings]


@pytest.fixture(scope="module")
def smart_turn() -> SmartTurn:
    return SmartTurn.shared()


def voiced(vad, x: np.ndarray) -> np.ndarray:
    stream = vad.stream()
    return np.array([stream.probability(x[i * FRAME : (i + 1) * FRAME]) > 0.5 for i in range(x.size // FRAME)])


def test_model_comes_from_the_pipecat_wheel(smart_turn):
    path = find_smart_turn_model()
    assert path.name.startswith("smart-turn-v3") and path.suffix == ".onnx"
    assert "pipecat" in path.parts and SmartTurn.shared() is smart_turn


def test_features_match_pipecats_reference(real_data):
    reference = pytest.importorskip("pipecat.audio.turn.smart_turn._whisper_features")
    x = load_clip(real_data, "speech/cmu_arctic_aew_a0001.wav")
    ours = SmartTurn.features(x)[0]
    padded = np.concatenate([np.zeros(128000 - x.size, np.float32), x])
    np.testing.assert_allclose(ours, reference.compute_whisper_log_mel_features(padded), atol=1e-5)
    long = np.tile(x, 3)  # > 8 s: the last 8 s are used
    np.testing.assert_allclose(
        SmartTurn.features(long)[0], reference.compute_whisper_log_mel_features(long[-128000:]), atol=1e-5
    )
    with pytest.raises(ValueError):
        whisper_log_mel(x)


def test_complete_sentences_score_higher_than_cuts(smart_turn, vad, real_data):
    complete, cut = [], []
    for clip in SENTENCES:
        x = load_clip(real_data, clip)
        v = voiced(vad, x)
        last = (np.nonzero(v)[0][-1] + 1) * FRAME
        complete.append(smart_turn.completion_probability(np.concatenate([x[:last], PAUSE])))
        for fraction in (0.3, 0.5, 0.7):  # inside a voiced frame: mid-word
            j = int(fraction * last) // FRAME
            while not v[j]:
                j += 1
            cut.append(smart_turn.completion_probability(np.concatenate([x[: j * FRAME + FRAME // 2], PAUSE])))
    complete, cut = np.array(complete), np.array(cut)
    print(f"complete {np.round(complete, 3)}\ncut {np.round(cut, 3)}")
    # The int8 model's scores differ between CPUs, so this asserts what holds on each of them.
    # Measured on an Intel Xeon: complete 12/12 > 0.5 (mean 0.95, JFK 0.68), cuts mean 0.49, 17/36 > 0.5;
    # on an AMD EPYC: complete 11/12 > 0.5 (mean 0.91, JFK 0.39), cuts mean 0.63, 23/36 > 0.5.
    assert (complete > 0.5).sum() >= 10
    assert cut.mean() < complete.mean() - 0.2
    assert (cut < 0.5).mean() > (complete < 0.5).mean() + 0.2  # a cut is far more often heard as unfinished


def test_silence_and_threads(smart_turn, real_data):
    x = load_clip(real_data, "speech/jfk_inaugural_1961.wav")
    assert smart_turn.completion_probability(np.zeros(0, np.float32)) == 0.0
    expected = smart_turn.completion_probability(x)
    results: list[float] = []
    threads = [threading.Thread(target=lambda: results.append(smart_turn.completion_probability(x))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == pytest.approx([expected] * 3, abs=1e-5)
