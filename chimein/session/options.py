"""Session settings: per-server options, and the turn options resolved once from a setup."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from chimein.perception.speakers import EnrolledVoice
from chimein.policy.endpointing import SMART_TURN_THRESHOLD
from chimein.protocol.messages import Setup
from chimein.session.resumption import HandleStore, ResumableState

DEFAULT_MAX_ANSWER_TOKENS = 80
PARTIAL_PREFILL_EVERY_S = 0.6
"""While a person speaks, their words so far are transcribed and put in the answer's prompt this
often (``PrefillPartial``): at the end of the turn only the last words are left to evaluate.
Proactive audio off only (every turn is answered there)."""

EndOfTurn = Literal["smart_turn", "silence"]


@dataclass
class SessionOptions:
    """Per-server settings that shape every session."""

    api_key_id: str | None = None
    vertex: bool = False
    output_lead_s: float = 0.25
    clock: Callable[[], float] = time.monotonic
    observer: Callable[[dict[str, Any]], None] | None = None  # the per-session event stream
    end_of_turn: EndOfTurn = "smart_turn"
    """smart_turn: ask Smart Turn at each pause, silence ends the turn otherwise; silence: only the
    silence timeout ends a turn (the benchmark's plain turn-taking baseline)."""
    resumption: HandleStore | None = None
    """The server's resumption handles (server/state.py); None: sessions cannot be resumed."""
    resumed: ResumableState | None = None
    """State the server already claimed for ``setup.sessionResumption.handle`` (None: claim it here)."""
    enrolled_voices: tuple[EnrolledVoice, ...] = ()
    """Participants known before the session starts (``chimein voices add``); others are learned."""


@dataclass(frozen=True)
class TurnOptions:
    """How one session takes turns, resolved once from its setup (and stored with bench results).

    Endpointing: ``end_of_turn`` and Smart Turn's threshold; interruption: ``allow_interruptions``
    (``activityHandling`` other than NO_INTERRUPTION); proactivity: ``proactive`` (a policy decides
    whether to answer at all).
    """

    end_of_turn: EndOfTurn = "smart_turn"
    smart_turn_threshold: float = SMART_TURN_THRESHOLD
    allow_interruptions: bool = True
    proactive: bool = False
    manual_activity: bool = False  # automaticActivityDetection.disabled: the client marks turns
    input_transcription: bool = False
    max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS
    text_only: bool = False  # responseModalities TEXT: no speech
    partial_prefill_every_s: float = PARTIAL_PREFILL_EVERY_S  # 0: off

    @classmethod
    def resolve(cls, setup: Setup, options: SessionOptions, *, manual_activity: bool) -> TurnOptions:
        return cls(
            end_of_turn=options.end_of_turn,
            allow_interruptions=setup.activity_handling != "NO_INTERRUPTION",
            proactive=bool(setup.proactive_audio),
            manual_activity=manual_activity,
            input_transcription=bool(setup.input_transcription),
            max_answer_tokens=setup.max_output_tokens or DEFAULT_MAX_ANSWER_TOKENS,
            text_only=setup.response_modalities == ("TEXT",),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
