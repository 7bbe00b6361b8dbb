"""Removing the assistant's own voice from the microphone stream.

When a client plays the answer through a loudspeaker, the microphone hears it again,
attenuated, delayed and smeared by the room. The server knows exactly what it sent, so it runs
a real acoustic echo canceller (WebRTC AEC3, shipped as a binary in the ``livekit`` wheel, no
network) with the sent audio as the far-end reference. What the canceller leaves is what
people in the room said; the VAD, end-of-turn model and recogniser only ever see that.

Measured on TTS speech echoed at -10 dB, 50 ms, with a 0.25 s reverberant tail (see
``tests/perception/test_echo.py``): VAD speech frames 84 % -> 0 % on echo alone, while a
participant talking over the echo kept 76 % of their speech frames (98 % without echo). Cost:
about 1 % of real time.

Alignment: the reference is laid on the *input* clock (seconds of microphone audio received):
a chunk the client will start playing ``d`` seconds from now is placed ``d`` seconds after the
current input position. The remaining delay (client buffering, capture chunking, the room) is
found by AEC3's own delay estimator.
"""

from __future__ import annotations

import threading
from collections import deque
from itertools import islice
from typing import NamedTuple

import numpy as np

from chimein.perception.audio import INPUT_RATE, resample

FRAME = INPUT_RATE // 100  # AEC3 works on 10 ms frames
ECHO_TAIL_S = 1.0  # after the last reference sample, keep cancelling this long (room tail, buffering)
ECHO_SCORE_START = 10  # assume a loudspeaker until a silent mic during playback says otherwise
ECHO_SCORE_LIMIT = 30
ENVELOPE_FRAMES = 100  # 1 s of 10 ms frames
HISTORY_FRAMES = 500  # 5 s of 10 ms frames
MAX_ECHO_LAG_FRAMES = 30  # 300 ms: the longest echo delay looked for


class PlayedFrame(NamedTuple):
    """One 10 ms frame processed while our audio was playing: what the checks look back at."""

    pos: int  # input sample index
    ref_db: float  # what we played
    raw_db: float  # what the microphone heard
    raw_energy: float
    clean_energy: float  # what the canceller left


class EchoCanceller:
    """Per-session canceller. ``add_reference`` from the sending side, ``process`` on the mic stream."""

    def __init__(self) -> None:
        from livekit.rtc import AudioProcessingModule

        self._apm = AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
        self._lock = threading.Lock()
        self._reference = np.zeros(0, np.int16)  # samples at input positions [base, base + len)
        self._base = 0  # input sample index of _reference[0]
        self._mic_pos = 0  # input samples processed so far
        self._pending = np.zeros(0, np.float32)  # mic samples waiting for a whole 10 ms frame
        self._active_until = 0  # no reference after this input sample: pass audio through
        self._echo_score = ECHO_SCORE_START
        self._frames_since_check = 0
        self._played: deque[PlayedFrame] = deque(maxlen=HISTORY_FRAMES)  # the frames processed while playing

    @property
    def mic_position_s(self) -> float:
        return self._mic_pos / INPUT_RATE

    def add_reference(self, pcm: np.ndarray, rate: int, at_input_s: float) -> None:
        """The assistant's audio (int16) that the listener will hear starting at ``at_input_s``."""
        audio = resample(pcm.astype(np.float32) / 32768.0, rate, INPUT_RATE)
        samples = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        with self._lock:
            start = max(int(at_input_s * INPUT_RATE), self._base)
            end = start + len(samples)
            need = end - self._base
            if need > len(self._reference):
                self._reference = np.concatenate([self._reference, np.zeros(need - len(self._reference), np.int16)])
            self._reference[start - self._base : end - self._base] += samples[: end - start]
            self._active_until = max(self._active_until, end + int(ECHO_TAIL_S * INPUT_RATE))

    def process(self, mic: np.ndarray) -> np.ndarray:
        """Cancel echo in float32 16 kHz mic audio; returns the same number of samples.

        Audio is processed in whole 10 ms frames; a partial frame is held until the next call,
        so the output lags the input by less than 10 ms.
        """
        from livekit.rtc import AudioFrame

        data = np.concatenate([self._pending, mic]) if len(self._pending) else mic
        whole = len(data) - len(data) % FRAME
        self._pending = data[whole:].copy()
        out = np.empty(whole, np.float32)
        with self._lock:
            for i in range(0, whole, FRAME):
                frame = data[i : i + FRAME]
                pos = self._mic_pos
                self._mic_pos += FRAME
                if pos >= self._active_until:
                    out[i : i + FRAME] = frame  # nothing was played recently: nothing to cancel
                    continue
                ref = self._reference_at(pos)
                self._apm.process_reverse_stream(AudioFrame(ref.tobytes(), INPUT_RATE, 1, FRAME))
                near = (np.clip(frame, -1, 1) * 32767).astype(np.int16)
                near_frame = AudioFrame(near.tobytes(), INPUT_RATE, 1, FRAME)
                self._apm.set_stream_delay_ms(0)
                self._apm.process_stream(near_frame)
                cleaned = np.frombuffer(bytes(near_frame.data), np.int16).astype(np.float32) / 32768.0
                self._played.append(PlayedFrame(pos, _db(ref.astype(np.float32) / 32768.0), _db(frame),
                                                float(np.dot(frame, frame)), float(np.dot(cleaned, cleaned))))
                self._learn_echo_path()
                out[i : i + FRAME] = cleaned if self.echo_path else frame
            self._drop_old_reference()
        return out

    def removed_db(self, start_s: float, end_s: float) -> float | None:
        """How much the canceller took out of the microphone between two input times (dB, <= 0).

        Our own voice comes back mostly removed (-15 to -50 dB once converged); a person talking
        over it keeps most of their energy (-1 to -7 dB). None when nothing was cancelled there.
        """
        lo, hi = int(start_s * INPUT_RATE), int(end_s * INPUT_RATE)
        with self._lock:
            picked = [f for f in self._played if lo <= f.pos < hi]
        if not picked:
            return None
        raw = sum(f.raw_energy for f in picked) + 1e-10
        return 10 * float(np.log10((sum(f.clean_energy for f in picked) + 1e-10) / raw))

    def follows_reference(self, start_s: float, end_s: float) -> float | None:
        """How closely the raw microphone's loudness followed what we played, between two input times.

        Our own voice coming back rises and falls with the reference, syllable by syllable
        (correlation 0.8-1.0 on the bench's echoes), even before the canceller has converged at the
        start of an answer; a person talking over it does not. None when too little was playing.
        """
        lo, hi = int(start_s * INPUT_RATE), int(end_s * INPUT_RATE)
        lag_lo = lo - MAX_ECHO_LAG_FRAMES * FRAME
        with self._lock:
            frames = [f for f in self._played if lag_lo <= f.pos < hi]
        if len(frames) < 40:
            return None
        ref = np.array([f.ref_db for f in frames])
        mic = np.array([f.raw_db for f in frames])
        first = next((i for i, f in enumerate(frames) if f.pos >= lo), len(frames))
        best = None
        for lag in range(0, MAX_ECHO_LAG_FRAMES + 1, 2):
            if first - lag < 0:
                break
            m = mic[first:]
            r = ref[first - lag : len(ref) - lag]
            active = r > -50
            if active.sum() < 40 or r[active].std() < 1e-6 or m[active].std() < 1e-6:
                continue
            corr = float(np.corrcoef(r[active], m[active])[0, 1])
            best = corr if best is None else max(best, corr)
        return best

    @property
    def active(self) -> bool:
        """Is something we played (or its room tail) reaching the microphone now?"""
        return self._mic_pos < self._active_until

    @property
    def echo_path(self) -> bool:
        """Does the microphone hear the loudspeaker at all? (False with headphones.)"""
        return self._echo_score > 0

    def _learn_echo_path(self) -> None:
        """Evidence, while the answer plays, for or against an acoustic echo path.

        AEC3 also suppresses a person talking while it is unsure of the echo path; with no echo
        path at all (headphones) that cost a talker over the answer 65 % of their speech frames
        and an "uh-huh" all of them, and the canceller's "removed energy" then looks just like
        echo. So the path is judged by what only an echo does: the microphone's loudness follows
        the loudness of what we played (10 ms log-energy envelopes, correlated over the last
        second at lags up to 300 ms). A silent microphone while we play says "no path" too.
        """
        latest = self._played[-1]
        if latest.ref_db < -50:
            return
        if latest.raw_db < -55:
            # A silent mic says "no loudspeaker" only once we have been playing for longer than any
            # echo delay: at the start of every answer the echo has simply not arrived yet.
            recent = list(islice(reversed(self._played), MAX_ECHO_LAG_FRAMES))
            if len(recent) == MAX_ECHO_LAG_FRAMES and sum(f.ref_db > -50 for f in recent) >= 0.7 * MAX_ECHO_LAG_FRAMES:
                self._echo_score = max(self._echo_score - 1, -ECHO_SCORE_LIMIT)
            return
        self._frames_since_check += 1
        if self._frames_since_check < 10 or len(self._played) < ENVELOPE_FRAMES:
            return
        self._frames_since_check = 0
        follows = _envelope_correlation(list(islice(reversed(self._played), ENVELOPE_FRAMES))[::-1])
        if follows > 0.6:
            self._echo_score = min(self._echo_score + 10, ECHO_SCORE_LIMIT)
        elif follows < 0.3:
            self._echo_score = max(self._echo_score - 10, -ECHO_SCORE_LIMIT)

    def _reference_at(self, pos: int) -> np.ndarray:
        offset = pos - self._base
        if offset < 0 or offset >= len(self._reference):
            return np.zeros(FRAME, np.int16)
        ref = self._reference[offset : offset + FRAME]
        if len(ref) < FRAME:
            ref = np.concatenate([ref, np.zeros(FRAME - len(ref), np.int16)])
        return ref

    def _drop_old_reference(self) -> None:
        keep_from = self._mic_pos - INPUT_RATE  # a second behind the mic is plenty
        if keep_from > self._base:
            cut = min(keep_from - self._base, len(self._reference))
            self._reference = self._reference[cut:]
            self._base += cut


def _db(x: np.ndarray) -> float:
    return 10 * float(np.log10(float(np.dot(x, x)) / max(len(x), 1) + 1e-12))


def _envelope_correlation(frames: list[PlayedFrame]) -> float:
    """Best Pearson correlation of the mic's log-energy with the reference's, over 0-300 ms lags."""
    ref = np.array([f.ref_db for f in frames])
    mic = np.array([f.raw_db for f in frames])
    best = -1.0
    for lag in range(0, MAX_ECHO_LAG_FRAMES + 1, 2):
        a, b = ref[: len(ref) - lag], mic[lag:]
        if a.std() < 1e-6 or b.std() < 1e-6:
            continue
        best = max(best, float(np.corrcoef(a, b)[0, 1]))
    return best
