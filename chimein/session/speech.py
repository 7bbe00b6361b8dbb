"""One assistant utterance: the handle every stage refers to (style.md: speech handles).

The handle holds the reply's id and its user turn's id, the allow-interruptions guard, the playback
tracker (what the listener has heard), the running work, and two futures: ``interrupted`` resolves
when it is cut, ``done`` when it is over whichever way. There is one completion path,
:meth:`SpeechHandle.complete`; :meth:`interrupt` and :meth:`drop` are safe to call twice.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Literal

from chimein.session.pacing import PlaybackTracker

Outcome = Literal["answered", "declined", "interrupted", "dropped", "listening"]  # listening: NEED_MORE_INPUT


@dataclass
class SpeechHandle:
    id: str
    turn_id: int | None = None
    allow_interruptions: bool = True
    playback: PlaybackTracker | None = None
    spoken_text: list[str] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)  # stops the LLM thread
    tasks: set[asyncio.Future[object]] = field(default_factory=set)
    may_send: asyncio.Event = field(default_factory=asyncio.Event)  # cleared while an overlap is judged
    done: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    interrupted: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    audible: bool = False  # the first audio chunk (or text) went out
    stages: set[str] = field(default_factory=set)  # first_token, first_clause: each reported once

    def __post_init__(self) -> None:
        self.may_send.set()

    @property
    def finished(self) -> bool:
        return self.done.done()

    def track(self, work: asyncio.Future[object]) -> None:
        """Work done for this utterance; cancelled when it is interrupted or dropped."""
        self.tasks.add(work)
        work.add_done_callback(self.tasks.discard)

    def hold(self) -> None:
        self.may_send.clear()

    def release(self) -> None:
        if self.playback is not None:
            self.playback.rebase()
        self.may_send.set()

    def heard(self) -> tuple[str, float]:
        """The words the listener has fully heard, and the seconds of audio played."""
        if self.playback is None:
            return "", 0.0
        return self.playback.heard_text(), self.playback.played_s()

    def interrupt(self, reason: str) -> bool:
        """Cut the utterance now; False if it was already over. Completes it as interrupted."""
        if self.finished:
            return False
        self.interrupted.set_result(reason)
        self._stop()
        self.complete("interrupted")
        return True

    def drop(self) -> bool:
        """Cancel an utterance that has not said a word (the turn went on); nothing is sent."""
        if self.finished:
            return False
        self._stop()
        self.complete("dropped")
        return True

    def complete(self, outcome: Outcome) -> bool:
        """The one completion path: True the first time, False after."""
        if self.done.done():
            return False
        self.done.set_result(outcome)
        self.may_send.set()
        return True

    def _stop(self) -> None:
        self.cancel.set()
        for work in list(self.tasks):
            if work is not asyncio.current_task():
                work.cancel()
