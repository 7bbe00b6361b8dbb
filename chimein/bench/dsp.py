"""Signal helpers for building benchmark scenes: levels, mixing at an SNR, low-pass, reverb.

Everything is float32 mono at 16 kHz. Levels follow one convention, documented in SCHEMA.md:
speech is measured by its *active* RMS (20 ms frames within 35 dB of the loudest frames, a
cheap stand-in for ITU-T P.56), noise and music by their plain RMS over the segment. An SNR
of ``x`` dB therefore means "the noise's RMS is x dB below the speech's active level".
"""

from __future__ import annotations

import math

import numpy as np

RATE = 16000
FRAME = 320  # 20 ms
_ACTIVE_RANGE_DB = 35.0
_SILENCE_FLOOR = 1e-6


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms(x: np.ndarray) -> float:
    """Plain RMS (0.0 for empty input)."""
    if x.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def frame_rms(x: np.ndarray, frame: int = FRAME) -> np.ndarray:
    n = len(x) // frame
    if n == 0:
        return np.array([rms(x)])
    frames = x[: n * frame].reshape(n, frame).astype(np.float64)
    return np.sqrt(np.mean(frames**2, axis=1))


def active_rms(x: np.ndarray) -> float:
    """RMS over the frames within 35 dB of the loudest (95th-percentile) frame: the speech level
    that pauses and leading silence do not dilute."""
    levels = frame_rms(x)
    if levels.size == 0 or levels.max() < _SILENCE_FLOOR:
        return 0.0
    top = float(np.percentile(levels, 95))
    active = levels[levels >= top * db_to_gain(-_ACTIVE_RANGE_DB)]
    return float(np.sqrt(np.mean(active**2)))


def level_dbfs(x: np.ndarray, *, speech: bool) -> float:
    value = active_rms(x) if speech else rms(x)
    return 20.0 * math.log10(max(value, 1e-12))


def scale_to(x: np.ndarray, target_rms: float, *, speech: bool) -> np.ndarray:
    """``x`` scaled so that its (active, for speech) RMS equals ``target_rms``."""
    current = active_rms(x) if speech else rms(x)
    if current < _SILENCE_FLOOR:
        return x.astype(np.float32, copy=True)
    return (x * (target_rms / current)).astype(np.float32)


def voiced_span(x: np.ndarray, *, floor_db: float = -40.0) -> tuple[int, int]:
    """First and one-past-last sample of the 20 ms frames within ``floor_db`` of the loudest frame."""
    levels = frame_rms(x)
    if levels.size == 0 or levels.max() < _SILENCE_FLOOR:
        return 0, 0
    keep = np.nonzero(levels >= levels.max() * db_to_gain(floor_db))[0]
    return int(keep[0] * FRAME), int(min(len(x), (keep[-1] + 1) * FRAME))


def trim(x: np.ndarray, *, pad_s: float = 0.05) -> np.ndarray:
    """Cut leading/trailing silence, keeping ``pad_s`` on each side."""
    start, stop = voiced_span(x)
    if stop <= start:
        return x[:0]
    pad = int(pad_s * RATE)
    return x[max(0, start - pad) : min(len(x), stop + pad)]


def loop_to(x: np.ndarray, n: int, *, offset: int = 0) -> np.ndarray:
    """``n`` samples of ``x`` starting at ``offset``, repeated as needed (20 ms crossfade at seams)."""
    if len(x) == 0:
        return np.zeros(n, np.float32)
    if len(x) >= offset + n:
        return x[offset : offset + n].astype(np.float32)
    fade = min(FRAME, len(x) // 4)
    out = np.zeros(n + len(x), np.float32)
    pos = -offset
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32) if fade else np.zeros(0, np.float32)
    while pos < n:
        piece = x.astype(np.float32).copy()
        if fade:
            piece[:fade] *= ramp
            piece[-fade:] *= ramp[::-1]
        lo = max(pos, 0)
        out[lo : pos + len(piece)] += piece[lo - pos :]
        pos += len(x) - fade
    return out[:n]


def fft_convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Linear convolution through the FFT, truncated to ``len(x)``."""
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: len(x)]
    return y.astype(np.float32)


def lowpass(x: np.ndarray, cutoff_hz: float, *, taps: int = 255) -> np.ndarray:
    """Windowed-sinc FIR low-pass (zero phase: the filter delay is removed)."""
    if cutoff_hz <= 0 or cutoff_hz >= RATE / 2:
        return x.astype(np.float32, copy=True)
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff_hz / RATE * n) * np.blackman(taps)
    h /= h.sum()
    padded = np.concatenate([x.astype(np.float32), np.zeros(taps // 2, np.float32)])
    return fft_convolve(padded, h)[taps // 2 :]


def room_impulse(rt60_s: float, *, seed: int = 0, predelay_s: float = 0.01) -> np.ndarray:
    """A synthetic room: a direct path plus exponentially decaying noise with the given RT60."""
    rng = np.random.default_rng(seed)
    length = max(1, int(rt60_s * RATE))
    t = np.arange(length) / RATE
    tail = rng.standard_normal(length) * np.exp(-6.9 * t / max(rt60_s, 1e-3))  # -60 dB at rt60
    tail[: int(predelay_s * RATE)] = 0.0
    tail *= 0.3 / max(1e-9, math.sqrt(float(np.sum(tail**2))))
    h = np.concatenate([[1.0], tail[1:]])
    return h.astype(np.float32)


def reverb(x: np.ndarray, wet: float, *, rt60_s: float = 0.5, seed: int = 0) -> np.ndarray:
    """Mix of the dry signal and the signal through :func:`room_impulse`; ``wet`` in [0, 1]."""
    if wet <= 0:
        return x.astype(np.float32, copy=True)
    wet_signal = fft_convolve(x.astype(np.float32), room_impulse(rt60_s, seed=seed))
    return ((1.0 - wet) * x + wet * wet_signal).astype(np.float32)


def add_at(base: np.ndarray, clip: np.ndarray, start: int) -> None:
    """Add ``clip`` into ``base`` from sample ``start`` (clipped at both ends), in place."""
    if start >= len(base) or start + len(clip) <= 0:
        return
    lo = max(0, start)
    hi = min(len(base), start + len(clip))
    base[lo:hi] += clip[lo - start : hi - start]


def snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """Active speech level of ``signal`` over plain RMS of ``noise``, in dB."""
    return 20.0 * math.log10(max(active_rms(signal), 1e-12) / max(rms(noise), 1e-12))
