"""Silero VAD on onnxruntime: one model per process, one small state object per audio stream.

The ONNX file comes from the ``silero-vad`` package's data folder (found without importing the
package, whose ``__init__`` needs torch) or from pipecat's identical copy. 512-sample frames at
16 kHz (32 ms); each call sees the previous frame's last 64 samples as context and carries the
``[2, 1, 128]`` recurrent state, exactly as silero's own ``OnnxWrapper`` does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from chimein.perception.assets import package_dir
from chimein.perception.audio import INPUT_RATE
from chimein.shared_model import SharedModel


def find_silero_model() -> Path:
    """The silero_vad.onnx shipped in an installed package (silero-vad, else pipecat-ai)."""
    candidates = []
    if (d := package_dir("silero_vad")) is not None:
        candidates.append(d / "data" / "silero_vad.onnx")
    if (d := package_dir("pipecat")) is not None:
        candidates.append(d / "audio" / "vad" / "data" / "silero_vad.onnx")
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "silero_vad.onnx not found: install `silero-vad` (pip install --no-deps silero-vad) or "
        f"`pipecat-ai`; looked in {[str(p) for p in candidates]}"
    )


class SileroVad(SharedModel):
    """The Silero VAD ONNX model on onnxruntime (no torch), shared by every stream in the process.

    ``InferenceSession.run`` is thread-safe, so streams on different threads share one session;
    all per-stream state lives in :class:`VadStream`.
    """

    def __init__(self, model_path: Path | None = None, *, threads: int = 1) -> None:
        self.model_path = model_path or find_silero_model()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        opts.enable_cpu_mem_arena = False  # no arena kept per model: same speed, less memory (#12)
        self._session = ort.InferenceSession(
            str(self.model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._sr = np.array(INPUT_RATE, dtype=np.int64)

    def stream(self) -> VadStream:
        """A fresh per-conversation stream (its own context and recurrent state)."""
        return VadStream(self)

    def _run(self, x: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        out, new_state = self._session.run(None, {"input": x, "state": state, "sr": self._sr})
        return float(out[0, 0]), new_state


class VadStream:
    """Per-stream Silero state: feed consecutive 32 ms frames, get speech probabilities."""

    FRAME_SAMPLES = 512
    CONTEXT_SAMPLES = 64

    def __init__(self, vad: SileroVad) -> None:
        self._vad = vad
        self.reset()

    def reset(self) -> None:
        """Forget the stream's history (after a discontinuity such as audioStreamEnd)."""
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.CONTEXT_SAMPLES, dtype=np.float32)

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability of the next frame: exactly 512 float32 samples at 16 kHz."""
        frame = np.asarray(frame, dtype=np.float32)
        if frame.shape != (self.FRAME_SAMPLES,):
            raise ValueError(
                f"VadStream.probability needs exactly {self.FRAME_SAMPLES} mono samples, "
                f"got shape {frame.shape}"
            )
        x = np.concatenate((self._context, frame))[np.newaxis, :]
        prob, self._state = self._vad._run(x, self._state)
        self._context = frame[-self.CONTEXT_SAMPLES :].copy()
        return prob
