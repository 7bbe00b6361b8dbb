"""A bounded record of the input audio on the session's input clock."""

from __future__ import annotations

import numpy as np

from chimein.perception.audio import INPUT_RATE


class AudioHistory:
    """The last ``max_s`` seconds of audio, addressable by input-clock seconds (a ring buffer)."""

    def __init__(self, max_s: float = 60.0) -> None:
        self._ring = np.zeros(int(max_s * INPUT_RATE), np.float32)
        self._written = 0  # total samples ever appended = input clock position

    @property
    def end_s(self) -> float:
        return self._written / INPUT_RATE

    def append(self, samples: np.ndarray) -> None:
        size = len(self._ring)
        samples = samples[-size:]
        start = self._written % size
        first = min(len(samples), size - start)
        self._ring[start : start + first] = samples[:first]
        self._ring[: len(samples) - first] = samples[first:]
        self._written += len(samples)

    def slice(self, start_s: float, end_s: float) -> np.ndarray:
        """Audio between two input-clock times, clipped to what is still kept."""
        size = len(self._ring)
        lo = max(int(start_s * INPUT_RATE), self._written - size, 0)
        hi = min(int(end_s * INPUT_RATE), self._written)
        if hi <= lo:
            return np.zeros(0, np.float32)
        index = np.arange(lo, hi) % size
        return self._ring[index]
