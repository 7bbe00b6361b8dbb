"""Co-listening to files: every container the Live API may send, streaming decode, VAD-cut windows."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
import soundfile as sf

from chimein.memory.listening import (
    BLOCK_S,
    MAX_WINDOW_S,
    ListeningProgress,
    iter_audio_16k,
    probe_audio_file,
    sentences_of,
    stream_transcript,
)
from chimein.perception.asr import Transcription, Word
from chimein.perception.audio import AudioDecodeError

pytestmark = [pytest.mark.slow, pytest.mark.real_recordings]


def _encode(x: np.ndarray, rate: int, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "MP3":
        with av.open(buf, mode="w", format="mp3") as out:
            stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
            frame = av.AudioFrame.from_ndarray((x * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        return buf.getvalue()
    sf.write(buf, x, rate, format=fmt, subtype={"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS"}[fmt])
    return buf.getvalue()


@pytest.fixture(scope="module")
def jfk(real_data):
    x, rate = sf.read(real_data / "speech" / "jfk_inaugural_1961.wav", dtype="float32")
    return x, rate


@pytest.mark.parametrize(("fmt", "mime"), [("WAV", "audio/wav"), ("FLAC", "audio/flac"), ("OGG", "audio/ogg"),
                                           ("MP3", "audio/mpeg"), ("WAV", None)])
def test_every_container_decodes_to_the_same_length(jfk, fmt, mime):
    x, rate = jfk
    data = _encode(x, rate, fmt)
    info = probe_audio_file(data, mime)
    assert info.duration_s == pytest.approx(x.size / rate, abs=0.08)  # MP3 adds an encoder delay
    blocks = list(iter_audio_16k(data, mime))
    assert max(b.size for b in blocks) <= int(BLOCK_S * 16000) + 2048  # streamed, never the whole file
    assert sum(b.size for b in blocks) == pytest.approx(x.size / rate * 16000, abs=0.08 * 16000)


def test_raw_pcm_at_its_own_rate(jfk):
    x, rate = jfk
    pcm = (x * 32767).astype("<i2").tobytes()
    info = probe_audio_file(pcm, f"audio/pcm;rate={rate}")
    assert info.rate == rate and info.frames == x.size
    out = np.concatenate(list(iter_audio_16k(pcm, "audio/pcm;rate=44100")))
    assert out.size == pytest.approx(x.size * 16000 / 44100, abs=2)  # a wrong rate is honoured, as declared


@pytest.mark.parametrize(("data", "mime", "reason"), [
    (b"RIFF\x00\x00\x00\x00WAVEjunkjunk", "audio/wav", "cannot decode audio file"),
    (b"\x00\x01" * 500, "audio/mpeg", "cannot decode"),
    (b"\x00\x01\x02", "audio/pcm;rate=16000", "odd count"),
    (b"", "audio/wav", "0 bytes"),
    (b"\x89PNG....", "image/png", "unsupported mimeType 'image/png'"),
    (b"1234", "audio/pcm;rate=3", "out of range"),
])
def test_corrupt_or_unsupported_data_is_refused_clearly(data, mime, reason):
    with pytest.raises(AudioDecodeError) as caught:
        probe_audio_file(data, mime)
    assert reason in str(caught.value)
    assert len(str(caught.value).encode()) < 123 or mime == "image/png"  # fits a close frame


def test_long_recording_in_windows(real_data, whisper_base, vad):
    """60 s of real talk: windows cut at pauses, progress reported, timed sentences, facts kept."""
    data = (real_data / "speech" / "silero_vad_test_talk.wav").read_bytes()
    info = probe_audio_file(data, "audio/wav")
    progress: list[ListeningProgress] = []
    windows = list(stream_transcript(iter_audio_16k(data, "audio/wav"), whisper_base, vad, total_s=info.duration_s,
                                     language="en", progress=progress.append))
    sentences = [s for w in windows for s in w]
    assert len(progress) >= 3 and progress[-1].done_s == pytest.approx(60.0, abs=0.1)
    edges = [0.0] + [p.done_s for p in progress]
    assert all(b - a <= MAX_WINDOW_S + 0.01 for a, b in zip(edges, edges[1:], strict=False))
    assert [s.start_s for s in sentences] == sorted(s.start_s for s in sentences)
    assert all(0 <= s.start_s <= s.end_s <= 60.0 for s in sentences)
    text = " ".join(s.text for s in sentences).lower()
    assert "dublin" in text and "wealth tax" in text and "piketty" in text
    dublin = next(s for s in sentences if "Dublin" in s.text)
    assert dublin.start_s < 3.0
    tax = next(s for s in sentences if "Who's going to implement" in s.text or "who's going" in s.text.lower())
    assert 48.0 < tax.start_s < 53.0  # the time is the recording's, not the window's


def test_silence_gives_no_sentences(whisper_base, vad):
    data = _encode(np.zeros(16000 * 35, np.float32), 16000, "WAV")
    assert [s for w in stream_transcript(iter_audio_16k(data, "audio/wav"), whisper_base, vad) for s in w] == []


def test_sentences_keep_abbreviations_together():
    words = [Word(w, i * 0.3, i * 0.3 + 0.25, 0.9) for i, w in enumerate(
        "Mrs. Allen, said Catherine, may I go? Go by all means.".split())]
    result = Transcription("x", "en", tuple(words), 4.0)
    sentences = sentences_of(result, offset_s=10.0)
    assert [s.text for s in sentences] == ["Mrs. Allen, said Catherine, may I go?", "Go by all means."]
    assert sentences[0].start_s == 10.0 and sentences[1].start_s == pytest.approx(10.0 + 7 * 0.3)
