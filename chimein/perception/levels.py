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
    frames = audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    level = float(np.percentile(rms, 80))
    return 20 * np.log10(level) if level > 1e-5 else SILENCE_DB
