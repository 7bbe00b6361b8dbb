"""The turn controller's explicit state: the five states and its view of each assistant reply."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from chimein.policy.proactivity import Decision
from chimein.session import events as ev


class State(enum.Enum):
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    DECIDING = "deciding"
    SPEAKING = "speaking"
    OVERLAP = "overlap"


Phase = Literal["transcribing", "grace", "deciding", "generating", "speaking"]


@dataclass
class Reply:
    """The controller's view of one assistant utterance (the runner holds its speech handle)."""

    id: str
    turn: ev.UserTurn | None
    phase: Phase = "transcribing"
    allow_interruptions: bool = True
    voice: str | None = None  # the participant voice of its turn (an answered one sets the reference level, #11)
    audible_at_s: float | None = None  # the input clock when its first audio (or text) went out
    waiting_call: Decision | None = None  # a call-only turn's decision, held for CALL_WAIT_S (phase "grace")

    @property
    def speaking(self) -> bool:
        return self.phase == "speaking"
