"""The participants' synthetic voices for benchmark scenes, at 16 kHz.

chimein ships two voices (Piper ``joe``, hibari ``heart``). A multi-party scene needs more
distinct speakers than that, so two more are derived by resampling, which shifts pitch, tempo
and formants together (a different-sounding, smaller or larger vocal tract), not just pitch:

* ``joe-high``: joe with every frequency x1.16 (about +2.6 semitones, 16 % faster);
* ``heart-low``: heart with every frequency x0.80 (about -3.9 semitones, 20 % slower).

Measured distinctness and recognisability of these four are in docs/benchmarks.md.

Three more come from CMU Flite (Debian package ``flite``, not a chimein dependency): ``slt``
(female, US), ``rms`` (male, US) and ``awb`` (male, Scottish). No dev scene uses them and no
threshold was tuned on them: the held-back decision scenes (category ``heldout_decisions``)
speak with them. A scene that needs them is skipped, with the reason, where flite is missing.
Clips are cached per process (synthesis costs 0.1-0.5 s a sentence on this machine).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chimein.bench.dsp import RATE
from chimein.generation.tts import OUTPUT_RATE, shared_synthesizer
from chimein.perception.audio import decode_audio_file, resample


@dataclass(frozen=True)
class VoiceSpec:
    """A base synthesiser and the factor every frequency is multiplied by (1.0 = unchanged)."""

    base: str
    shift: float = 1.0
    description: str = ""


VOICES: dict[str, VoiceSpec] = {
    "heart": VoiceSpec("heart", 1.0, "hibari heart (female, US English)"),
    "joe": VoiceSpec("joe", 1.0, "Piper joe-medium (male, US English)"),
    "joe-high": VoiceSpec("joe", 1.16, "joe resampled x1.16: higher and faster"),
    "heart-low": VoiceSpec("heart", 0.80, "heart resampled x0.80: lower and slower"),
    "slt": VoiceSpec("flite:slt", 1.0, "CMU Flite slt (female, US English); held back from tuning"),
    "rms": VoiceSpec("flite:rms", 1.0, "CMU Flite rms (male, US English); held back from tuning"),
    "awb": VoiceSpec("flite:awb", 1.0, "CMU Flite awb (male, Scottish English); held back from tuning"),
}


def unavailable(voice: str) -> str | None:
    """Why ``voice`` cannot be synthesised here (a Flite voice without flite), or None."""
    spec = VOICES.get(voice)
    if spec is not None and spec.base.startswith("flite:") and shutil.which("flite") is None:
        return f"voice {voice!r} needs CMU Flite (apt-get install -y flite)"
    return None


def _flite(text: str, voice: str) -> np.ndarray:
    """Flite's 16 kHz output for ``text`` as float32."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wav)], check=True, capture_output=True)
        audio, rate = decode_audio_file(wav.read_bytes(), None)
    return resample(audio, rate, RATE).astype(np.float32)

_cache: dict[tuple[str, str], np.ndarray] = {}
_lock = threading.Lock()


class UnknownBenchVoice(ValueError):
    pass


def check_voice(name: str) -> None:
    if name not in VOICES:
        raise UnknownBenchVoice(f"unknown voice {name!r}; bench voices: {', '.join(VOICES)}")


def speak(text: str, voice: str) -> np.ndarray:
    """``text`` spoken by ``voice`` as float32 at 16 kHz (a fresh copy; cached per process)."""
    check_voice(voice)
    key = (voice, " ".join(text.split()))
    with _lock:
        cached = _cache.get(key)
    if cached is None:
        spec = VOICES[voice]
        if spec.base.startswith("flite:"):
            flite = _flite(key[1], spec.base.split(":", 1)[1])
            with _lock:
                _cache[key] = flite
            return flite.copy()
        clip = shared_synthesizer(spec.base).synthesize(key[1])
        audio = clip.pcm.astype(np.float32) / 32768.0
        # Reading 24 kHz samples as if recorded at 24 kHz x shift multiplies every frequency by shift.
        cached = resample(audio, int(round(OUTPUT_RATE * spec.shift)), RATE).astype(np.float32)
        with _lock:
            _cache[key] = cached
    return cached.copy()
