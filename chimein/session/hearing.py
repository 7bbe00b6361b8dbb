"""The session's ears: echo cancelling, the audio history and activity detection behind one facade.

Every push runs in a worker thread (the default executor, which the benchmark's virtual clock
watches) and one at a time: a flush of the detector (``end_now``) waits for the push in flight, and
the caller's check that the flush still applies runs under the same lock, with no await between.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from chimein.perception.activity import (
    ActivityConfig,
    ActivityDetector,
    SpeechEnded,
    SpeechPaused,
    SpeechQuiet,
    SpeechResumed,
    SpeechStarted,
)
from chimein.perception.echo import EchoCanceller
from chimein.perception.history import AudioHistory
from chimein.perception.levels import speech_level_db
from chimein.perception.vad import VadStream
from chimein.session import events as ev
from chimein.session.speech import SpeechHandle

HISTORY_S = 60.0


class Hearing:
    """Microphone audio in, controller events out, on the input-audio clock."""

    def __init__(self, vad: VadStream, config: ActivityConfig) -> None:
        self.config = config
        self.detector = ActivityDetector(vad, config)
        self.echo = EchoCanceller()
        self.history = AudioHistory(max_s=HISTORY_S)  # what the detector heard, for joining a continued turn
        self._lock = asyncio.Lock()

    @property
    def clock_s(self) -> float:
        return self.detector.clock_s

    @property
    def onset_pending(self) -> bool:
        """Someone may be starting to speak: the detector is counting speech frames it has not confirmed."""
        return self.detector.onset_pending

    async def hear(self, audio: np.ndarray, feed: Callable[[ev.Event], None]) -> None:
        """Push audio through the canceller and the detector; feed the events, then the new clock."""
        async with self._lock:
            events = await asyncio.to_thread(self._hear, audio)
            for event in events:
                feed(event)
            feed(ev.Heard(self.detector.clock_s, self.detector.silent_s))

    async def end_now(self, applies: Callable[[], bool], feed: Callable[[ev.Event], None]) -> None:
        """Flush the detector (the utterance ends now), if ``applies()`` still holds once it is our turn."""
        async with self._lock:
            if not applies():
                return
            for event in _convert(self.detector.end_now(), self.detector):
                feed(event)

    def utterance_audio(self) -> np.ndarray:
        return self.detector.utterance_audio()

    def _hear(self, audio: np.ndarray) -> list[ev.Event]:
        """Worker thread: cancel our own voice, then detect activity in what is left."""
        cleaned = self.echo.process(audio)
        self.history.append(cleaned)
        return _convert(self.detector.push(cleaned), self.detector)

    # ------------------------------------------------------------------ what the controller may read

    @property
    def echo_path(self) -> bool:
        return self.echo.echo_path

    @property
    def loudspeaker(self) -> bool:
        return self.echo.echo_path and self.echo.active

    def echo_removed_db(self, start_s: float, end_s: float) -> float | None:
        return self.echo.removed_db(start_s, end_s)

    def follows_reference(self, start_s: float, end_s: float) -> float | None:
        return self.echo.follows_reference(start_s, end_s)


class SessionSenses:
    """What the controller may read (controller.Senses): the echo canceller and what each reply has said."""

    def __init__(self, hearing: Hearing, handle: Callable[[str], SpeechHandle | None]) -> None:
        self._hearing, self._handle = hearing, handle

    @property
    def echo_path(self) -> bool:
        return self._hearing.echo_path

    @property
    def loudspeaker(self) -> bool:
        return self._hearing.loudspeaker

    def echo_removed_db(self, start_s: float, end_s: float) -> float | None:
        return self._hearing.echo_removed_db(start_s, end_s)

    def follows_reference(self, start_s: float, end_s: float) -> float | None:
        return self._hearing.follows_reference(start_s, end_s)

    def spoken_text(self, reply_id: str) -> str:
        handle = self._handle(reply_id)
        return " ".join(handle.spoken_text) if handle else ""

    def recent_text(self, reply_id: str, seconds: float) -> str:
        handle = self._handle(reply_id)
        return handle.playback.recent_text(seconds) if handle and handle.playback else ""


def _convert(events: list[object], detector: ActivityDetector) -> list[ev.Event]:
    out: list[ev.Event] = []
    for event in events:
        if isinstance(event, SpeechStarted):
            out.append(ev.Started(event.at_s, speech_level_db(detector.utterance_audio())))
        elif isinstance(event, SpeechQuiet):
            out.append(ev.Quiet(event.at_s, event.audio))
        elif isinstance(event, SpeechPaused):
            out.append(ev.Paused(event.at_s, event.audio))
        elif isinstance(event, SpeechResumed):
            out.append(ev.Resumed(event.at_s))
        elif isinstance(event, SpeechEnded):
            out.append(ev.Ended(event.at_s, event.audio))
    return out
