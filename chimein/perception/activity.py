"""Automatic activity detection: VAD probabilities -> speech start, pause, resume, end.

A pure, synchronous state machine (no I/O, no clock): audio goes in, events come out, and every
time is seconds of input audio pushed so far. It implements the Live API's
``realtimeInputConfig.automaticActivityDetection``: start/end sensitivity, prefix padding and
the silence duration that ends a turn. The end-of-turn model is not called here; a
:class:`SpeechPaused` tells the session that a pause is long enough to ask it; :class:`SpeechQuiet`,
64 ms before, lets it start transcribing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from chimein.perception.audio import INPUT_RATE
from chimein.perception.vad import VadStream

Sensitivity = Literal["HIGH", "LOW"]

FRAME_SAMPLES = VadStream.FRAME_SAMPLES
FRAME_S = FRAME_SAMPLES / INPUT_RATE  # 32 ms

MAX_UTTERANCE_S = 30.0
"""An utterance (prefix padding included) is ended when it reaches this length: bounds memory
and keeps each utterance inside one Whisper window."""

MAX_PREFIX_PADDING_MS = 5000
"""Longer prefix padding is clamped to this (it would eat into the 30 s utterance limit)."""

_MAX_PENDING_RUN = 5 * INPUT_RATE  # audio kept for a start candidate that never confirms

TRAILING_PAD_S = 0.25
"""Silence kept after the last voiced frame in SpeechEnded.audio (ASR likes a little tail)."""


@dataclass(frozen=True)
class _Tuning:
    """Frame-level thresholds behind one sensitivity setting (32 ms frames)."""

    threshold: float  # a frame at or above this is speech (used to start and to resume)
    start_frames: int  # speech frames needed to confirm a start (a hysteresis run)
    resume_frames: int  # speech frames needed to resume after a SpeechPaused
    pause_frames: int  # silent frames before SpeechPaused (ask the end-of-turn model)

    @property
    def quiet_frames(self) -> int:
        """Silent frames before SpeechQuiet: two frames (64 ms) ahead of the pause."""
        return max(1, self.pause_frames - 2)

    @property
    def keep_threshold(self) -> float:
        """While speaking, a frame at or above this keeps the speech going (silero's hysteresis)."""
        return self.threshold - 0.15


# Start: HIGH needs 6 frames (192 ms) at p >= 0.5, LOW 9 frames (288 ms) at p >= 0.65. Silero
# keeps p high for 1-2 frames after speech stops, so slices of real speech padded with silence
# reached 6 frames in 0/26 cases at 64 ms, 2/28 at 96 ms, 7/28 at 128 ms and 13/28 at 160 ms;
# real noise recordings (kitchen clatter, speechbrain noise5) reached at most 4. Confirming
# sooner would let clicks and clatter become utterances (there is no "discard" event).
_START = {"HIGH": (0.5, 6, 3), "LOW": (0.65, 9, 5)}
# End: HIGH asks the end-of-turn model after 6 silent frames (192 ms), LOW after 16 (512 ms).
_PAUSE_FRAMES = {"HIGH": 6, "LOW": 16}


@dataclass(frozen=True)
class ActivityConfig:
    """The Live API's automaticActivityDetection settings, resolved to chimein's defaults."""

    start_sensitivity: Sensitivity = "HIGH"
    """HIGH: speech confirmed after 192 ms above p=0.5; LOW: after 288 ms above p=0.65."""
    end_sensitivity: Sensitivity = "HIGH"
    """HIGH: SpeechPaused after 192 ms of silence; LOW: after 512 ms."""
    prefix_padding_ms: int = 300
    """Audio kept before the confirmed speech onset (0 = none; at most 5000 is used)."""
    silence_duration_ms: int = 800
    """Silence that ends the turn whatever the end-of-turn model says (at least one 32 ms frame)."""
    disabled: bool = False
    """True: the client signals activityStart/activityEnd itself and the detector emits nothing."""

    def __post_init__(self) -> None:
        for name in ("start_sensitivity", "end_sensitivity"):
            if getattr(self, name) not in ("HIGH", "LOW"):
                raise ValueError(f"{name} must be 'HIGH' or 'LOW', got {getattr(self, name)!r}")
        for name in ("prefix_padding_ms", "silence_duration_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer (ms), got {value!r}")
        if not isinstance(self.disabled, bool):
            raise ValueError(f"disabled must be a boolean, got {self.disabled!r}")

    @classmethod
    def from_setup(cls, automatic_activity_detection: Mapping[str, Any] | None) -> ActivityConfig:
        """Read ``realtimeInputConfig.automaticActivityDetection`` (camelCase or snake_case keys).

        Enum values are the Live API's names (``START_SENSITIVITY_HIGH`` ...); ``*_UNSPECIFIED``
        and absent fields take the defaults. Raises ValueError on unknown keys or bad values.
        """
        if automatic_activity_detection is None:
            return cls()
        if not isinstance(automatic_activity_detection, Mapping):
            raise ValueError(
                "automaticActivityDetection must be an object, got "
                f"{type(automatic_activity_detection).__name__}"
            )
        kwargs: dict[str, Any] = {}
        for key, raw in automatic_activity_detection.items():
            field = _SETUP_KEYS.get(key)
            if field is None:
                raise ValueError(
                    f"unknown automaticActivityDetection field {key!r}; expected one of "
                    "disabled, startOfSpeechSensitivity, endOfSpeechSensitivity, prefixPaddingMs, "
                    "silenceDurationMs"
                )
            if field in kwargs:
                raise ValueError(f"automaticActivityDetection gives {field} twice (camelCase and snake_case)")
            if raw is None:
                continue
            if field == "start_sensitivity":
                value = _parse_sensitivity(raw, "START_SENSITIVITY", key)
            elif field == "end_sensitivity":
                value = _parse_sensitivity(raw, "END_SENSITIVITY", key)
            elif field == "disabled":
                if not isinstance(raw, bool):
                    raise ValueError(f"automaticActivityDetection.{key} must be true or false, got {raw!r}")
                value = raw
            else:
                value = _parse_ms(raw, key)
            if value is not None:
                kwargs[field] = value
        return cls(**kwargs)


_SETUP_KEYS = {
    "disabled": "disabled",
    "startOfSpeechSensitivity": "start_sensitivity",
    "start_of_speech_sensitivity": "start_sensitivity",
    "endOfSpeechSensitivity": "end_sensitivity",
    "end_of_speech_sensitivity": "end_sensitivity",
    "prefixPaddingMs": "prefix_padding_ms",
    "prefix_padding_ms": "prefix_padding_ms",
    "silenceDurationMs": "silence_duration_ms",
    "silence_duration_ms": "silence_duration_ms",
}


def _parse_sensitivity(raw: Any, prefix: str, key: str) -> str | None:
    value = getattr(raw, "value", raw)  # google-genai passes its str enums
    if not isinstance(value, str):
        raise ValueError(f"automaticActivityDetection.{key} must be a string, got {raw!r}")
    name = value.strip().upper()
    if name == f"{prefix}_UNSPECIFIED":
        return None
    if name in (f"{prefix}_HIGH", f"{prefix}_LOW"):
        return name.rsplit("_", 1)[1]
    raise ValueError(
        f"automaticActivityDetection.{key} must be {prefix}_HIGH, {prefix}_LOW or "
        f"{prefix}_UNSPECIFIED, got {value!r}"
    )


def _parse_ms(raw: Any, key: str) -> int:
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():  # protobuf JSON allows "300"
        raw = int(raw.strip())
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError(f"automaticActivityDetection.{key} must be an integer number of ms, got {raw!r}")
    if raw < 0:
        raise ValueError(f"automaticActivityDetection.{key} must not be negative, got {raw}")
    return raw


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechStarted:
    """Speech confirmed. at_s is the onset (start of the first voiced frame), which lies
    192 ms (HIGH) or 288 ms (LOW) or more before the moment the event is emitted."""

    at_s: float


@dataclass(frozen=True)
class SpeechPaused:
    """The speaker has been silent long enough to ask the end-of-turn model.

    at_s: end of the last voiced frame. audio: the utterance so far, prefix padding and the
    silence of the pause included (the shape Smart Turn was trained on).
    """

    at_s: float
    audio: np.ndarray


@dataclass(frozen=True)
class SpeechQuiet:
    """Silent for a little less than a pause (64 ms less): time to start transcribing, so that the
    words are ready sooner should the pause end the turn. It changes no boundary: the pause, the
    end-of-turn model and the end come exactly as without it. at_s: end of the last voiced frame
    (the pause that follows has the same one unless speech came back); audio: the utterance so far.
    """

    at_s: float
    audio: np.ndarray


@dataclass(frozen=True)
class SpeechResumed:
    """Speech came back after a SpeechPaused; at_s is the onset of the new speech."""

    at_s: float


@dataclass(frozen=True)
class SpeechEnded:
    """The utterance is over: silence reached silence_duration_ms, the utterance hit 30 s, or
    end_now() was called. at_s: end of the last voiced frame. audio: prefix padding + speech +
    up to 250 ms of trailing silence."""

    at_s: float
    audio: np.ndarray


ActivityEvent = SpeechStarted | SpeechQuiet | SpeechPaused | SpeechResumed | SpeechEnded


# --- detector ------------------------------------------------------------------------------


class ActivityDetector:
    """Turns 16 kHz float32 audio into speech activity events, one VAD frame (32 ms) at a time.

    States: quiet (looking for a confirmed start), speaking (voiced), speaking but silent
    (counting towards SpeechPaused and SpeechEnded). Memory is bounded: while quiet only the
    prefix padding and the pending start are kept; an utterance is ended at 30 s.
    """

    def __init__(self, vad: VadStream, config: ActivityConfig) -> None:
        self._vad = vad
        self.config = config
        threshold, start_frames, resume_frames = _START[config.start_sensitivity]
        self._tuning = _Tuning(
            threshold=threshold,
            start_frames=start_frames,
            resume_frames=resume_frames,
            pause_frames=_PAUSE_FRAMES[config.end_sensitivity],
        )
        self._silence_end_frames = max(1, math.ceil(config.silence_duration_ms / (FRAME_S * 1000)))
        prefix_ms = min(config.prefix_padding_ms, MAX_PREFIX_PADDING_MS)
        self._prefix_samples = round(prefix_ms * INPUT_RATE / 1000)
        self._max_utterance_samples = round(MAX_UTTERANCE_S * INPUT_RATE)
        self._trailing_pad = round(TRAILING_PAD_S * INPUT_RATE)
        self._pending = np.zeros(0, dtype=np.float32)  # pushed samples not yet a whole frame
        self._pushed = 0  # samples pushed (the clock)
        self._next_frame = 0  # absolute sample where the next VAD frame starts (+ pending = pushed)
        # Audio kept: frames from absolute sample self._buf_start on.
        self._buf: list[np.ndarray] = []
        self._buf_len = 0
        self._buf_start = 0
        self._floor = 0  # no utterance audio may start before this sample (end of the last one)
        self._reset_quiet()

    # -- public API ---------------------------------------------------------------------------

    @property
    def clock_s(self) -> float:
        """Seconds of audio pushed so far (the session's input-audio clock)."""
        return self._pushed / INPUT_RATE

    @property
    def silent_s(self) -> float:
        """Seconds of silence since the open utterance's last voiced frame (0 while voiced or idle)."""
        return self._silent_frames * FRAME_SAMPLES / INPUT_RATE if self._speaking else 0.0

    @property
    def speaking(self) -> bool:
        """True between SpeechStarted and SpeechEnded."""
        return self._speaking

    @property
    def onset_pending(self) -> bool:
        """Speech frames have begun a run that is not yet confirmed as speech (not while speaking)."""
        return not self._speaking and self._run_count > 0

    def push(self, samples: np.ndarray) -> list[ActivityEvent]:
        """Feed audio (float32, 16 kHz, any length); return the events it completes, in order."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._pushed += x.size
        if self.config.disabled:
            return []
        if self._pending.size:
            x = np.concatenate((self._pending, x))
        n = x.size // FRAME_SAMPLES
        self._pending = x[n * FRAME_SAMPLES :].copy()
        events: list[ActivityEvent] = []
        for i in range(n):
            self._step(x[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES], events)
        return events

    def end_now(self) -> list[ActivityEvent]:
        """Flush: a current utterance ends now (SpeechEnded) and the VAD starts afresh.

        For audioStreamEnd, and for when the end-of-turn model calls a pause complete (at_s is
        then the end of the last voiced frame, as for a silence timeout).
        """
        events: list[ActivityEvent] = []
        if self._speaking:
            if self._pending.size:
                self._append(self._pending)
            end = self._pushed if self._silent_frames == 0 else self._last_voiced_end
            self._finish(end, events)
        self._pending = np.zeros(0, dtype=np.float32)
        self._vad.reset()
        self._next_frame = self._pushed
        self._buf, self._buf_len, self._buf_start = [], 0, self._pushed
        self._reset_quiet()
        return events

    def utterance_audio(self) -> np.ndarray:
        """The current utterance so far (prefix padding included); empty when not speaking."""
        if not self._speaking:
            return np.zeros(0, dtype=np.float32)
        return self._audio(self._utt_start, self._next_frame)

    # -- state machine ------------------------------------------------------------------------

    def _reset_quiet(self) -> None:
        self._speaking = False
        self._paused = False
        self._run_count = 0  # speech frames in the current candidate run
        self._run_onset = 0  # absolute sample where that run began
        self._utt_start = 0
        self._last_voiced_end = 0
        self._silent_frames = 0

    def _step(self, frame: np.ndarray, events: list[ActivityEvent]) -> None:
        p = self._vad.probability(frame)
        frame_start = self._next_frame
        frame_end = self._next_frame = frame_start + FRAME_SAMPLES
        self._append(frame)
        t = self._tuning
        if not self._speaking:
            self._candidate(p, frame_start)
            if self._run_count >= t.start_frames:
                self._speaking = True
                self._utt_start = max(self._buf_start, self._floor, self._run_onset - self._prefix_samples)
                self._last_voiced_end = frame_end
                self._silent_frames = 0
                self._run_count = 0
                events.append(SpeechStarted(at_s=self._run_onset / INPUT_RATE))
            else:
                run = frame_end - self._run_onset if self._run_count else 0
                self._trim(keep=self._prefix_samples + min(run, _MAX_PENDING_RUN))
            return
        if self._paused:
            self._candidate(p, frame_start)
            if self._run_count >= t.resume_frames:
                self._paused = False
                self._silent_frames = 0
                self._last_voiced_end = frame_end
                self._run_count = 0
                events.append(SpeechResumed(at_s=self._run_onset / INPUT_RATE))
            else:
                self._silent_frames += 1
        elif p >= t.keep_threshold:
            self._silent_frames = 0
            self._last_voiced_end = frame_end
        else:
            self._silent_frames += 1
        if self._silent_frames >= self._silence_end_frames:
            self._finish(self._last_voiced_end, events)
            self._start_quiet_after_utterance()
        elif frame_end + FRAME_SAMPLES - self._utt_start > self._max_utterance_samples:
            self._finish(self._last_voiced_end if self._silent_frames else frame_end, events)
            self._start_quiet_after_utterance()
        elif not self._paused and self._silent_frames >= t.pause_frames:
            self._paused = True
            self._run_count = 0
            events.append(
                SpeechPaused(at_s=self._last_voiced_end / INPUT_RATE, audio=self._audio(self._utt_start, frame_end))
            )
        elif not self._paused and self._silent_frames == t.quiet_frames:
            events.append(
                SpeechQuiet(at_s=self._last_voiced_end / INPUT_RATE, audio=self._audio(self._utt_start, frame_end))
            )

    def _candidate(self, p: float, frame_start: int) -> None:
        """Count a hysteresis run of speech frames (p >= threshold; reset below keep_threshold)."""
        if p >= self._tuning.threshold:
            if self._run_count == 0:
                self._run_onset = frame_start
            self._run_count += 1
        elif p < self._tuning.keep_threshold:
            self._run_count = 0

    def _finish(self, end_sample: int, events: list[ActivityEvent]) -> None:
        stop = min(self._buf_start + self._buf_len, end_sample + self._trailing_pad)
        self._floor = stop  # the next utterance's prefix padding must not repeat this audio
        events.append(SpeechEnded(at_s=end_sample / INPUT_RATE, audio=self._audio(self._utt_start, stop)))

    def _start_quiet_after_utterance(self) -> None:
        self._reset_quiet()
        self._trim(keep=self._prefix_samples)

    # -- audio buffer -------------------------------------------------------------------------

    def _append(self, frame: np.ndarray) -> None:
        self._buf.append(frame.copy())
        self._buf_len += frame.size

    def _trim(self, keep: int) -> None:
        """Drop whole frames from the front while more than `keep` samples remain after them."""
        while self._buf and self._buf_len - self._buf[0].size >= keep:
            dropped = self._buf.pop(0)
            self._buf_len -= dropped.size
            self._buf_start += dropped.size

    def _audio(self, start: int, stop: int) -> np.ndarray:
        if not self._buf or stop <= start:
            return np.zeros(0, dtype=np.float32)
        whole = np.concatenate(self._buf)
        lo = max(0, start - self._buf_start)
        hi = max(lo, min(whole.size, stop - self._buf_start))
        return whole[lo:hi].copy()
