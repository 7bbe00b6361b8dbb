"""Speech level: how loud a stretch of speech is, robust to the pauses inside it.

Participants near the microphone are louder than a TV or people talking across the room;
comparing an utterance's level with the participants' usual level is the cheapest distance cue.
"""

from __future__ import annotations

import numpy as np

FRAME = 512  # 32 ms at 16 kHz
SILENCE_DB = -100.0


def speech_level_db(audio: np.ndarray) -> float:
    """Active speech level in dBFS: the 80th percentile of 32 ms frame RMS levels.

    Taking a high percentile rather than the mean ignores the silent frames between words and
    the prefix padding, so the same voice at the same distance reads the same whether it spoke
    one word or twenty.
    """
    if len(audio) < FRAME:
        if not len(audio):
            return SILENCE_DB
        audio = np.pad(audio, (0, FRAME - len(audio)))
    level = float(np.percentile(frame_rms(audio, FRAME), 80))
    return 20 * np.log10(level) if level > 1e-5 else SILENCE_DB


def frame_rms(audio: np.ndarray, frame: int = FRAME) -> np.ndarray:
    """RMS of each whole ``frame``-sample frame (a partial last frame is left out)."""
    frames = np.asarray(audio)[: len(audio) // frame * frame].reshape(-1, frame).astype(np.float64)
    return np.sqrt(np.mean(frames**2, axis=1))
