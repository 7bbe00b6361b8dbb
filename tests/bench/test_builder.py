"""The scene builder renders at the levels the scenario asks for, with consistent labels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from chimein.bench import dsp
from chimein.bench.builder import DEFAULT_DATA_DIR, MissingData, render
from chimein.bench.scenario import (
    CATEGORIES,
    ScenarioError,
    default_scenario_dir,
    load_scenarios,
    parse_scenario,
)
from chimein.bench.voices import VOICES

RATE = 16000


def _needs_real_data() -> Path:
    if not DEFAULT_DATA_DIR.is_dir():
        pytest.skip(f"real recordings not found at {DEFAULT_DATA_DIR} (../shared/data/real): skipping")
    return DEFAULT_DATA_DIR


def _speech_and_noise(snr_db: float, noise: str) -> dict:
    return {
        "category": "speech_in_noise",
        "background": [{"noise": noise, "snr_db": snr_db}],
        "timeline": [
            {"say": "How long should I knead pizza dough?", "voice": "joe", "expect": "answer"},
            {"pause": 1.0},
            {"say": "I think ten minutes is enough.", "voice": "heart", "expect": "silent"},
        ],
    }


@pytest.mark.parametrize("snr_db", [10.0, 5.0, 0.0])
def test_real_noise_is_mixed_at_the_requested_snr(snr_db: float) -> None:
    _needs_real_data()
    scene = render(parse_scenario(_speech_and_noise(snr_db, "noise/speechcommands_doing_the_dishes_30s.wav")))
    speech, noise = scene.stems["participants"], scene.stems["noise"]
    assert np.allclose(scene.audio, sum(scene.stems.values()), atol=1e-6)
    # measured on the mix itself: everything that is not the participants is the noise
    assert dsp.snr_db(speech, scene.audio - speech) == pytest.approx(snr_db, abs=0.3)
    assert dsp.snr_db(speech, noise) == pytest.approx(snr_db, abs=0.3)
    assert dsp.level_dbfs(speech, speech=True) == pytest.approx(scene.scenario.speech_level_dbfs, abs=0.5)


def test_chatter_is_filtered_and_set_below_the_participants() -> None:
    scene = render(parse_scenario({
        "category": "speech_in_noise",
        "timeline": [
            {"say": "I really like Italian food.", "voice": "heart", "expect": "silent"},
            {"chatter": "And now the weather for tomorrow.", "voice": "joe", "level_db": -15, "lowpass_hz": 3000,
             "reverb": 0.5},
            {"chatter": "Could you pass the salt?", "voice": "joe-high", "level_db": -8},
        ],
    }))
    speech = dsp.level_dbfs(scene.stems["participants"], speech=True)
    tv, side = (lab for lab in scene.labels if lab.kind == "chatter")
    tv_audio = scene.stems["chatter"][int(tv.start_s * RATE) - 800 : int(tv.end_s * RATE)]
    side_audio = scene.stems["chatter"][int(side.start_s * RATE) - 800 : int(side.end_s * RATE)]
    assert dsp.level_dbfs(tv_audio, speech=True) - speech == pytest.approx(-15.0, abs=1.0)
    assert dsp.level_dbfs(side_audio, speech=True) - speech == pytest.approx(-8.0, abs=1.0)
    spectrum = np.abs(np.fft.rfft(tv_audio))
    freqs = np.fft.rfftfreq(len(tv_audio), 1 / RATE)
    above = np.sum(spectrum[freqs > 4000] ** 2) / np.sum(spectrum**2)
    assert above < 1e-3  # low-passed at 3 kHz


def test_labels_follow_the_timeline() -> None:
    scene = render(parse_scenario({
        "category": "pause",
        "lead_in_s": 0.5,
        "timeline": [
            {"say": "I really love cooking!", "voice": "heart", "expect": "silent"},
            {"pause": 2.0},
            {"say": ["I was thinking we could maybe", "make a risotto tonight."], "gap_s": 1.5, "voice": "joe",
             "expect": "answer", "keywords": ["risotto"]},
            {"pause": 3.0},
        ],
    }))
    first, second = scene.labels
    speech = scene.stems["participants"]
    assert first.start_s == pytest.approx(0.5, abs=0.1)
    assert first.start_s < first.speech_end_s <= first.end_s < second.start_s
    assert second.start_s - first.end_s == pytest.approx(2.0, abs=0.15)
    assert first.window_end_s == second.start_s and second.window_end_s == pytest.approx(scene.duration_s)
    assert first.reference == "I really love cooking!"
    assert second.reference == "I was thinking we could maybe make a risotto tonight."
    (gap_start, gap_end), = second.pauses
    assert second.start_s < gap_start < gap_end < second.speech_end_s
    assert gap_end - gap_start == pytest.approx(1.5, abs=0.2)
    assert dsp.rms(speech[int(gap_start * RATE) + 800 : int(gap_end * RATE) - 800]) < 1e-4  # silent pause
    assert dsp.rms(speech[int(first.end_s * RATE) + 800 : int(second.start_s * RATE) - 800]) < 1e-4
    for lab in scene.labels:  # every label has its speech where it says
        assert dsp.rms(speech[int(lab.start_s * RATE) : int(lab.speech_end_s * RATE)]) > 0.01
    assert scene.duration_s == pytest.approx(second.end_s + 3.0 + scene.scenario.tail_s, abs=0.05)


def test_the_dev_set_covers_every_category_with_three_voices() -> None:
    scenarios = load_scenarios(default_scenario_dir())
    assert len(scenarios) >= 30
    categories = Counter(s.category for s in scenarios)
    assert set(categories) == set(CATEGORIES)
    assert {s.category for s in scenarios if s.quick} == set(CATEGORIES)
    voices = {e.source.voice for s in scenarios for e in s.timeline if e.source and e.source.voice}
    assert len(voices & set(VOICES)) >= 3
    assert any(s.needs_real_data for s in scenarios)


def test_held_back_voices_without_flite_are_skipped_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    import chimein.bench.voices as voices

    monkeypatch.setattr(voices.shutil, "which", lambda name: None)
    scenario = parse_scenario({"category": "heldout_decisions", "timeline": [{"say": "Otto, hi.", "voice": "slt", "expect": "answer"}]})
    with pytest.raises(MissingData, match="needs CMU Flite"):
        render(scenario)


def test_scenarios_needing_real_data_are_skipped_cleanly(tmp_path: Path) -> None:
    scenario = parse_scenario(_speech_and_noise(5.0, "noise/speechcommands_doing_the_dishes_30s.wav"))
    with pytest.raises(MissingData, match="not found"):
        render(scenario, tmp_path / "absent")


@pytest.mark.parametrize(("raw", "message"), [
    ({"category": "nope", "timeline": [{"say": "x", "expect": "silent"}]}, "category must be one of"),
    ({"category": "pause", "timeline": [{"say": "x"}]}, "needs `expect"),
    ({"category": "pause", "timeline": [{"say": "x", "expect": "silent", "volume": 3}]}, "unknown field"),
    ({"category": "pause", "timeline": [{"interrupt": "stop"}]}, "needs an earlier utterance"),
    ({"category": "pause", "timeline": [{"say": "x", "voice": "bob", "expect": "silent"}]}, "unknown voice"),
    ({"category": "pause", "timeline": [{"say": "x", "expect": "silent", "keywords": ["a"]}]}, "only checked on answers"),
    ({"category": "pause", "timeline": [{"pause": 2.0}]}, "nothing to score"),
])
def test_schema_errors_name_the_problem(raw: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(raw)
