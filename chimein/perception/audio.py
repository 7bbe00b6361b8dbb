"""Audio plumbing: PCM conversion, resampling and decoding of uploaded audio files.

Everything inside perception works on float32 mono at 16 kHz (the Live API's input rate);
these helpers are the only places where other formats and rates are turned into that.
"""

from __future__ import annotations

import io
import re

import numpy as np
import soxr

INPUT_RATE = 16000
"""The Live API's realtime input rate (``audio/pcm;rate=16000``) and perception's working rate."""


class AudioDecodeError(ValueError):
    """Audio bytes that cannot be decoded: unsupported type, corrupt or empty data."""


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Signed 16-bit little-endian PCM -> float32 in [-1, 1)."""
    if len(data) % 2:
        raise AudioDecodeError(f"16-bit PCM needs an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(x: np.ndarray) -> bytes:
    """Float samples in [-1, 1] -> signed 16-bit little-endian PCM (out-of-range samples are clipped)."""
    scaled = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0) * 32767.0
    return np.rint(scaled).astype("<i2").tobytes()


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample mono audio with soxr (high quality); float32 or int16 in, the same dtype out."""
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    arr = np.asarray(x)
    if arr.dtype not in (np.float32, np.int16):
        arr = arr.astype(np.float32)
    if arr.ndim != 1:
        raise ValueError(f"resample expects mono 1-D audio, got shape {arr.shape}")
    if src_rate == dst_rate:
        return arr.copy()
    if arr.size == 0:
        return np.zeros(0, dtype=arr.dtype)
    out = soxr.resample(arr, src_rate, dst_rate, quality="HQ")
    return np.asarray(out, dtype=arr.dtype)


# --- files ---------------------------------------------------------------------------------

_SOUNDFILE_TYPES = {
    "audio/wav": "WAV",
    "audio/wave": "WAV",
    "audio/x-wav": "WAV",
    "audio/vnd.wave": "WAV",
    "audio/flac": "FLAC",
    "audio/x-flac": "FLAC",
    "audio/ogg": "OGG",
    "audio/opus": "OGG",
    "audio/aiff": "AIFF",
    "audio/x-aiff": "AIFF",
}
_AV_TYPES = {
    "audio/mp3",
    "audio/mpeg",
    "audio/mpeg3",
    "audio/x-mp3",
    "audio/aac",
    "audio/mp4",
    "audio/m4a",
    "audio/x-m4a",
    "audio/webm",
}
_PCM_TYPES = {"audio/pcm", "audio/l16", "audio/raw"}
_RATE_RE = re.compile(r"(?:^|;)\s*rate\s*=\s*([^;\s]+)", re.IGNORECASE)


def decode_audio_file(data: bytes, mime_type: str | None) -> tuple[np.ndarray, int]:
    """Decode an uploaded audio blob to float32 mono at its own rate.

    WAV/FLAC/OGG/AIFF go through soundfile (libsndfile), MP3/AAC/WebM through PyAV, and raw
    ``audio/pcm;rate=N`` is read as int16 little-endian mono (rate 16000 when not given).
    Without a MIME type the container is sniffed from its first bytes. Raises
    AudioDecodeError for empty, unsupported or corrupt data.
    """
    if not data:
        raise AudioDecodeError("no audio data (0 bytes)")
    base, params = _split_mime(mime_type)
    if base in _PCM_TYPES:
        return _decode_pcm(data, params)
    if base in _SOUNDFILE_TYPES:
        try:
            return _decode_soundfile(data)
        except AudioDecodeError:
            # A mislabelled or exotic file (e.g. Opus in Ogg on an old libsndfile): let FFmpeg try.
            return _decode_av(data, base)
    if base in _AV_TYPES:
        return _decode_av(data, base)
    if base in ("", "application/octet-stream", "audio/*", "audio"):
        kind = _sniff(data)
        if kind == "soundfile":
            return _decode_soundfile(data)
        if kind == "av":
            return _decode_av(data, "sniffed")
        raise AudioDecodeError(
            "cannot tell the audio format from the data; give a MIME type such as audio/wav, "
            "audio/flac, audio/ogg, audio/mpeg or audio/pcm;rate=16000"
        )
    raise AudioDecodeError(
        f"unsupported audio MIME type {mime_type!r}; supported: audio/pcm;rate=N, "
        f"{', '.join(sorted(set(_SOUNDFILE_TYPES) | _AV_TYPES))}"
    )


def _split_mime(mime_type: str | None) -> tuple[str, str]:
    if not mime_type:
        return "", ""
    base, _, params = mime_type.partition(";")
    return base.strip().lower(), params


def _decode_pcm(data: bytes, params: str) -> tuple[np.ndarray, int]:
    rate = INPUT_RATE
    match = _RATE_RE.search(";" + params)
    if match:
        try:
            rate = int(match.group(1))
        except ValueError:
            raise AudioDecodeError(f"bad rate {match.group(1)!r} in audio/pcm MIME type") from None
        if not 1000 <= rate <= 384000:
            raise AudioDecodeError(f"audio/pcm rate {rate} is out of range (1000-384000 Hz)")
    return pcm16_to_float(data), rate


def _to_mono(x: np.ndarray) -> np.ndarray:
    if x.ndim == 2:
        x = x.mean(axis=1)
    return np.ascontiguousarray(x, dtype=np.float32)


def _decode_soundfile(data: bytes) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        x, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioDecodeError(f"cannot decode audio file: {exc}") from exc
    if x.shape[0] == 0:
        raise AudioDecodeError("audio file contains no samples")
    return _to_mono(x), int(rate)


def _decode_av(data: bytes, label: str) -> tuple[np.ndarray, int]:
    import av  # PyAV, installed with faster-whisper

    chunks: list[np.ndarray] = []
    rate = 0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioDecodeError(f"no audio stream in {label} data")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate or None)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    rate = out.sample_rate
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                rate = out.sample_rate
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioDecodeError:
        raise
    except Exception as exc:  # av.error.FFmpegError and friends
        raise AudioDecodeError(f"cannot decode {label} audio: {exc}") from exc
    if not chunks or rate <= 0:
        raise AudioDecodeError(f"{label} data decoded to no audio samples")
    x = np.concatenate(chunks).astype(np.float32)
    if x.size == 0:
        raise AudioDecodeError(f"{label} data decoded to no audio samples")
    return x, int(rate)


def _sniff(data: bytes) -> str | None:
    head = data[:12]
    if head[:4] in (b"RIFF", b"RIFX", b"fLaC", b"OggS", b"FORM"):
        return "soundfile"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
        return "av"
    if head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3":  # MP4/M4A, Matroska/WebM
        return "av"
    return None
