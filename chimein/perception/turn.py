"""Smart Turn v3: is the utterance so far a complete turn, judged from the audio alone?

The ONNX model ships in the pipecat-ai wheel (``pipecat/audio/turn/smart_turn/data/``); we find
it without importing pipecat (whose ``__init__`` logs a banner and pulls loguru). Its input is
the Whisper log-mel spectrogram of the last 8 s, left-zero-padded; the features below are a
numpy port of ``transformers.WhisperFeatureExtractor`` (the same maths as pipecat's vendored
``_whisper_features.py``; a test checks that they agree).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnxruntime as ort

from chimein.perception.assets import package_dir
from chimein.perception.audio import INPUT_RATE
from chimein.shared_model import SharedModel

WINDOW_S = 8
_WINDOW = WINDOW_S * INPUT_RATE
_N_FFT = 400
_HOP = 160
_N_MELS = 80


def _mel_filters() -> np.ndarray:
    """Slaney-scale, Slaney-normalised triangular filters, shape (n_fft/2+1, 80)."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        mel = 3.0 * f / 200.0
        log = f >= 1000.0
        return np.where(log, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) * (27.0 / np.log(6.4)), mel)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        hz = 200.0 * m / 3.0
        return np.where(m >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (m - 15.0)), hz)

    mels = np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(INPUT_RATE / 2)), _N_MELS + 2)
    edges = mel_to_hz(mels)
    fft_freqs = np.linspace(0, INPUT_RATE // 2, _N_FFT // 2 + 1)
    slopes = edges[np.newaxis, :] - fft_freqs[:, np.newaxis]
    widths = np.diff(edges)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    filters *= 2.0 / (edges[2 : _N_MELS + 2] - edges[:_N_MELS])
    return filters


_MEL = _mel_filters().T  # (80, 201)
_HANN = np.hanning(_N_FFT + 1)[:-1]  # periodic Hann, as torch.hann_window


def whisper_log_mel(audio: np.ndarray) -> np.ndarray:
    """Whisper log-mel features (80 x 800) of exactly 8 s of 16 kHz audio, waveform-normalised.

    Matches ``WhisperFeatureExtractor(chunk_length=8)(..., do_normalize=True)``.
    """
    x = np.asarray(audio, dtype=np.float32)
    if x.shape != (_WINDOW,):
        raise ValueError(f"whisper_log_mel needs {_WINDOW} samples (8 s at 16 kHz), got {x.shape}")
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), (_N_FFT // 2, _N_FFT // 2), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
    power = np.abs(np.fft.rfft(frames * _HANN, axis=-1)) ** 2  # (801, 201)
    log_spec = np.log10(np.maximum(1e-10, _MEL @ power.T))[:, :-1]  # (80, 800)
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def find_smart_turn_model() -> Path:
    """The newest smart-turn-v3*.onnx in the installed pipecat-ai wheel (CPU build preferred)."""
    pkg = package_dir("pipecat")
    if pkg is None:
        raise FileNotFoundError("pipecat-ai is not installed (pip install --no-deps pipecat-ai)")
    data = pkg / "audio" / "turn" / "smart_turn" / "data"
    found = sorted(data.glob("smart-turn-v3*.onnx"), key=_model_sort_key)
    if not found:
        raise FileNotFoundError(f"no smart-turn-v3*.onnx in {data}")
    return found[-1]


def _model_sort_key(path: Path) -> tuple[tuple[int, ...], bool]:
    version = tuple(int(v) for v in re.findall(r"\d+", path.stem.split("smart-turn-v", 1)[1].split("-")[0]))
    return version, "cpu" in path.stem


class SmartTurn(SharedModel):
    """Smart Turn v3.x on onnxruntime: probability that the speaker has finished their turn.

    One instance per process; ``completion_probability`` blocks (~50-150 ms on this CPU), so call
    it from a worker thread. onnxruntime sessions are thread-safe, so no lock is needed.
    """

    def __init__(self, model_path: Path | None = None, *, threads: int = 1) -> None:
        self.model_path = model_path or find_smart_turn_model()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        opts.enable_cpu_mem_arena = False  # no arena kept per model: same speed, less memory (#12)
        self._session = ort.InferenceSession(
            str(self.model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    @staticmethod
    def features(audio: np.ndarray) -> np.ndarray:
        """Model input (1, 80, 800) for an utterance: its last 8 s, left-zero-padded."""
        x = np.asarray(audio, dtype=np.float32).reshape(-1)
        if x.size >= _WINDOW:
            x = x[-_WINDOW:]
        else:
            x = np.concatenate((np.zeros(_WINDOW - x.size, dtype=np.float32), x))
        return whisper_log_mel(x)[np.newaxis]

    def completion_probability(self, audio: np.ndarray) -> float:
        """P(turn complete) for a float32 16 kHz utterance ending now; > 0.5 means complete."""
        if np.asarray(audio).size == 0:
            return 0.0
        (out,) = self._session.run(None, {"input_features": self.features(audio)})
        return float(np.asarray(out).reshape(-1)[0])
