"""PCM conversion, resampling and file decoding (files written with soundfile, no fixtures)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from chimein.perception.audio import (
    INPUT_RATE,
    AudioDecodeError,
    decode_audio_file,
    float_to_pcm16,
    pcm16_to_float,
    resample,
)


def tone(rate: int = INPUT_RATE, seconds: float = 0.5, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def encode(x: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def test_pcm16_round_trip():
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0], dtype=np.float32)
    data = float_to_pcm16(x)
    assert len(data) == 2 * x.size
    assert np.frombuffer(data, "<i2").tolist() == [0, 16384, -16384, 32767, -32767, 32767, -32767]
    y = pcm16_to_float(data)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[:5], np.clip(x[:5], -1, 1), atol=1 / 32767)
    with pytest.raises(AudioDecodeError):
        pcm16_to_float(b"\x00\x01\x02")


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_resample_keeps_dtype_length_and_pitch(dtype):
    x = tone(24000, 1.0, 300.0)
    src = x if dtype == np.float32 else (x * 32767).astype(np.int16)
    y = resample(src, 24000, INPUT_RATE)
    assert y.dtype == dtype
    assert abs(y.size - INPUT_RATE) <= 2
    spectrum = np.abs(np.fft.rfft(y.astype(np.float64)))
    assert abs(np.argmax(spectrum) * INPUT_RATE / y.size - 300.0) < 2.0
    assert resample(np.zeros(0, dtype), 48000, 16000).size == 0


@pytest.mark.parametrize("fmt,mime", [("WAV", "audio/wav"), ("FLAC", "audio/flac"), ("OGG", "audio/ogg")])
def test_decode_soundfile_formats(fmt, mime):
    x = tone(22050, 0.6)
    data = encode(x, 22050, fmt)
    for given in (mime, None):  # the MIME type, and sniffing without one
        y, rate = decode_audio_file(data, given)
        assert rate == 22050 and y.dtype == np.float32
        assert abs(y.size - x.size) <= 64
        n = min(x.size, y.size)
        tolerance = 0.01 if fmt != "OGG" else 0.2  # Vorbis is lossy
        assert np.sqrt(np.mean((x[:n] - y[:n]) ** 2)) < tolerance


def test_decode_stereo_is_mixed_to_mono():
    left, right = tone(hz=440.0), tone(hz=660.0)
    y, rate = decode_audio_file(encode(np.stack([left, right], axis=1), INPUT_RATE, "WAV"), "audio/x-wav")
    assert rate == INPUT_RATE and y.ndim == 1
    np.testing.assert_allclose(y, (left + right) / 2, atol=2e-4)


def test_decode_mp3_with_pyav():
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write MP3 to make a test file")
    x = tone(INPUT_RATE, 1.0, 440.0)
    y, rate = decode_audio_file(encode(x, INPUT_RATE, "MP3"), "audio/mpeg")
    assert rate == INPUT_RATE and y.dtype == np.float32
    assert 0.9 * x.size <= y.size <= 1.2 * x.size  # MP3 adds encoder delay/padding
    spectrum = np.abs(np.fft.rfft(y.astype(np.float64)))
    assert abs(np.argmax(spectrum) * rate / y.size - 440.0) < 3.0


def test_decode_raw_pcm_with_and_without_rate():
    x = tone(8000, 0.25)
    data = float_to_pcm16(x)
    y, rate = decode_audio_file(data, "audio/pcm;rate=8000")
    assert rate == 8000
    np.testing.assert_allclose(y, x, atol=1 / 32767 + 1e-6)
    assert decode_audio_file(data, "audio/pcm")[1] == INPUT_RATE
    assert decode_audio_file(data, "audio/L16; rate=24000")[1] == 24000


@pytest.mark.parametrize(
    "data,mime",
    [
        (b"", "audio/wav"),
        (b"this is not audio at all, just some text" * 10, "audio/wav"),
        (b"this is not audio at all, just some text" * 10, "audio/mpeg"),
        (b"this is not audio at all, just some text" * 10, None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage", None),
        (b"\x00\x01" * 100, "video/mp4-nonsense"),
        (b"\x00\x01" * 100, "audio/pcm;rate=abc"),
        (b"\x00\x01\x02", "audio/pcm;rate=16000"),
        (b"\x00\x01" * 100, "audio/pcm;rate=5"),
    ],
)
def test_decode_rejects_bad_input(data, mime):
    with pytest.raises(AudioDecodeError) as info:
        decode_audio_file(data, mime)
    assert str(info.value)  # a message a client can read
    assert isinstance(info.value, ValueError)
