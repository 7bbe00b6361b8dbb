"""Voice prints: features identical to the embedder's training recipe, voices told apart, enrolment."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from chimein.bench.voices import speak
from chimein.perception.speakers import (
    EnrolledVoice,
    Participants,
    SpeakerEmbedder,
    VoiceBook,
    VoiceBookError,
    log_mel,
)

SENTENCES = [
    "Shall we start dinner soon? I'm getting hungry.",
    "Let me finish this email first, then I'll help you.",
    "What time does the store close today?",
    "Do you know where I put my keys this morning?",
]


def test_log_mel_matches_librosa_recipe():
    # Reference values computed with librosa 0.11 (melspectrogram, hamming, center=False, 40 Slaney
    # mels, n_fft 512, win 400, hop 160, log10): the recipe the bundled embedder was trained on.
    t = np.arange(8000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 2500 * t) * np.linspace(0, 1, 8000)).astype(np.float32)
    feats = log_mel(x)
    assert feats.shape == (47, 40)
    np.testing.assert_allclose(feats[10, ::4], [-2.81, 0.4622, -3.2089, -3.9778, -4.6682, -5.0789, -1.6862, -5.7553,
                                                -6.1916, -6.4472], atol=2e-3)
    np.testing.assert_allclose(feats[-1, ::4], [-2.8945, 0.4618, -3.0958, -3.7433, -4.3247, -4.5098, -0.4603, -4.7152,
                                                -5.2211, -5.4685], atol=2e-3)


@pytest.fixture(scope="module")
def prints():
    embedder = SpeakerEmbedder.shared()
    return {voice: [embedder.embed(speak(s, voice)) for s in SENTENCES] for voice in ("heart", "joe", "joe-high", "heart-low")}


def test_one_voice_is_closer_to_itself_than_to_others(prints):
    for voice, own in prints.items():
        same = [float(a @ b) for i, a in enumerate(own) for b in own[i + 1 :]]
        other = [float(a @ b) for v, embs in prints.items() if v != voice for a in own for b in embs]
        assert min(same) > float(np.median(other)) + 0.2, (voice, min(same), np.median(other))
        assert np.median(same) > 0.6


def test_too_short_gives_no_print():
    assert SpeakerEmbedder.shared().embed(np.zeros(16000, np.float32)) is None
    assert SpeakerEmbedder.shared().embed(speak("Hi.", "joe")[:4000]) is None


def test_participants_learn_and_match(prints):
    people = Participants()
    people.learn(prints["heart"][0], -26.0)
    people.learn(prints["joe"][0], -25.0)
    assert len(people.voices) == 2
    assert people.match(prints["heart"][2]).voice is people.voices[0]
    assert people.match(prints["joe"][3]).voice is people.voices[1]
    people.learn(prints["heart"][1], -27.0)
    assert len(people.voices) == 2 and people.voices[0].utterances == 2
    assert people.match(prints["heart-low"][0]).voice is None  # a stranger


def test_voice_book_round_trip(tmp_path):
    book = VoiceBook(tmp_path / "voices")
    audio = np.concatenate([speak(s, "heart") for s in SENTENCES[:2]])
    added = book.add("Alice", audio, SpeakerEmbedder.shared())
    (loaded,) = book.voices()
    assert isinstance(loaded, EnrolledVoice) and loaded.name == "Alice"
    assert float(loaded.embedding @ added.embedding) > 0.999
    assert abs(loaded.level_db - added.level_db) < 0.01
    (tmp_path / "voices" / "broken.json").write_text("{not json")
    (tmp_path / "voices" / "wrong.json").write_text(json.dumps({"name": "x", "level_db": -20, "embedding": [1, 2]}))
    assert [v.name for v in book.voices()] == ["Alice"]  # damaged files are skipped
    assert book.remove("Alice") and not book.remove("Alice")


def test_voice_book_refuses_bad_input(tmp_path):
    book = VoiceBook(tmp_path)
    with pytest.raises(VoiceBookError, match="voice name"):
        book.add("../etc", speak(SENTENCES[0], "joe"), SpeakerEmbedder.shared())
    with pytest.raises(VoiceBookError, match="at least 3 s"):
        book.add("bob", speak("Hello there.", "joe"), SpeakerEmbedder.shared())


def test_voices_command(tmp_path):
    sample = tmp_path / "alice.wav"
    sf.write(sample, np.concatenate([speak(s, "heart") for s in SENTENCES[:2]]), 16000)
    env_home = {"CHIMEIN_HOME": str(tmp_path / "home")}

    def chimein(*args: str) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run([sys.executable, "-m", "chimein.cli", "voices", *args], capture_output=True, text=True,
                              env={**os.environ, **env_home}, timeout=120)

    added = chimein("add", "alice", str(sample))
    assert added.returncode == 0 and "enrolled alice" in added.stdout, added.stderr
    listed = chimein("list")
    assert "alice" in listed.stdout and "dBFS" in listed.stdout
    missing = chimein("add", "bob", str(tmp_path / "nope.wav"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    assert chimein("remove", "alice").returncode == 0
    assert chimein("remove", "alice").returncode == 1
    assert "no enrolled voices" in chimein("list").stdout
