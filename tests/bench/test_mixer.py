"""The run-time microphone: reactive clips and echo land where and how loud the scenario says."""

from __future__ import annotations

import numpy as np

from chimein.bench import dsp
from chimein.bench.builder import render
from chimein.bench.mixer import InputMixer
from chimein.bench.scenario import parse_scenario

RATE = 16000


def _scene(extra: dict | None = None, timeline_tail: list | None = None):
    raw = {
        "category": "interruption",
        "setup": {"instruction": "You are a helpful, friendly assistant."},
        "timeline": [
            {"say": "Can you tell me a story?", "voice": "joe", "expect": "answer"},
            *(timeline_tail or [{"interrupt": "Wait, stop.", "voice": "heart", "after_answer_s": 1.0}]),
            {"pause": 8.0},
        ],
        **(extra or {}),
    }
    return render(parse_scenario(raw))


def _tone(seconds: float, amplitude: float = 0.3) -> bytes:
    t = np.arange(int(seconds * 24000)) / 24000
    return (np.sin(2 * np.pi * 440 * t) * amplitude * 32767).astype("<i2").tobytes()


def _pull(mixer: InputMixer, until_s: float) -> np.ndarray:
    parts = []
    while mixer.sent < int(until_s * RATE) and not mixer.done:
        parts.append(mixer.next_chunk(1600))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def test_interrupt_is_placed_after_the_answer_starts_and_labelled_there() -> None:
    scene = _scene()
    mixer = InputMixer(scene)
    answer_start = scene.labels[0].speech_end_s + 1.0
    head = _pull(mixer, answer_start)
    mixer.on_audio(answer_start, _tone(0.1))
    assert len(mixer.placed) == 1
    label = mixer.placed[0]
    assert label.kind == "interrupt" and label.expect == "stop"
    assert abs(label.start_s - (answer_start + 1.0)) < 0.1  # after_answer_s, plus the clip's short lead-in
    rest = _pull(mixer, scene.duration_s)
    audio = np.concatenate([head, rest])[: len(scene.audio)]
    assert np.allclose(audio[: len(head)], scene.audio[: len(head)])
    added = audio - scene.audio
    lo, hi = int(label.start_s * RATE), int(label.end_s * RATE)
    assert dsp.rms(added[lo:hi]) > 0.01  # the interrupt is in the microphone signal...
    assert dsp.rms(added[: lo - 1600]) == 0.0  # ...and nowhere before it
    assert abs(dsp.level_dbfs(added[lo:hi], speech=True) - scene.scenario.speech_level_dbfs) < 1.5


def test_reactive_clip_whose_answer_never_comes_is_not_played() -> None:
    scene = _scene()
    mixer = InputMixer(scene)
    audio = _pull(mixer, scene.duration_s)[: len(scene.audio)]
    for t in np.arange(0, scene.duration_s, 0.1):
        mixer.tick(float(t))
    mixer.finish()
    assert np.array_equal(audio, scene.audio)
    assert [lab.end_s for lab in mixer.placed] == [0.0]  # recorded, unplaced: scored n/a


def test_echo_comes_back_delayed_attenuated_and_stops_on_interrupted() -> None:
    scene = _scene({"echo": {"level_db": -10, "delay_ms": 50, "reverb": 0.0}},
                   timeline_tail=[{"pause": 1.0}])
    mixer = InputMixer(scene)
    start = 3.0
    _pull(mixer, start)
    tone = _tone(0.1)
    for i in range(10):  # 1 s of answer audio, arriving in real time
        mixer.on_audio(start + 0.1 * i, tone)
    mixer.on_interrupted(start + 0.5)
    echo = mixer.echo
    onset = np.flatnonzero(np.abs(echo) > 1e-4)[0] / RATE
    assert abs(onset - (start + 0.05)) < 0.002
    sent_rms = 0.3 / np.sqrt(2)
    measured = dsp.rms(echo[int((start + 0.1) * RATE) : int((start + 0.4) * RATE)])
    assert abs(20 * np.log10(measured / sent_rms) - (-10.0)) < 0.5
    assert dsp.rms(echo[int((start + 0.56) * RATE) :]) == 0.0  # the client flushed its queue
