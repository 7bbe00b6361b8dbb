"""What goes into the turn controller and what comes out of it.

Events in are facts, each stamped on the input-audio clock (seconds of microphone audio pushed so
far) or carrying the id of the request it answers: the runner feeds them in the order they happen.
Actions out are requests the runner carries out on the models and the client; their results come
back as events with the same id, and a result whose id is no longer current is ignored
(style.md: sans-I/O, one owner of turn state, stale results dropped by id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chimein.policy.proactivity import Decision

# ---------------------------------------------------------------------------------- the turns


@dataclass
class UserTurn:
    """One participant turn (or a text turn): what was said, and where it lies on the input clock.

    Kept apart from the assistant's utterance that answers it (the session's speech handle).
    """

    id: int
    audio: np.ndarray | None = None  # None: a text turn
    start_s: float = 0.0
    end_s: float = 0.0
    carry_start_s: float | None = None  # the turn continued after a pause: join the audio from here
    interrupting: bool = False  # it interrupted an answer: a participant, never chatter
    eot_probability: float | None = None  # Smart Turn's last score in the turn
    speculative_pause_id: int | None = None  # the pause whose early transcription this turn may reuse
    checked_call: int | None = None  # the CheckCall whose transcription this turn reuses
    text: str = ""
    speaker: str | None = None  # the voice it was spoken in (Transcription.speakerLabel)
    # Carried across a pause: the dropped turn it continues, and this utterance alone (#11: a new
    # voice or a clear gap makes it a turn of its own, policy/turns.py).
    earlier: UserTurn | None = None
    own_start_s: float | None = None
    own_audio: np.ndarray | None = None
    remembered: bool = False  # its text joined memory (a Respond was issued for it)
    only_called: bool = False  # it only called the assistant ("OK computer."): its answer waited for a request


# ---------------------------------------------------------------------------------- events in


@dataclass(frozen=True)
class Heard:
    """Audio was pushed through the detector: the input clock now reads ``clock_s``; the open
    utterance has been silent for ``silent_s`` (0 while voiced)."""

    clock_s: float
    silent_s: float = 0.0


@dataclass(frozen=True)
class Started:
    """Speech confirmed (perception's SpeechStarted); ``level_db`` of the utterance so far."""

    at_s: float
    level_db: float


@dataclass(frozen=True)
class Quiet:
    """A little less silence than a pause (perception.activity.SpeechQuiet)."""

    at_s: float
    audio: np.ndarray


@dataclass(frozen=True)
class Paused:
    at_s: float
    audio: np.ndarray


@dataclass(frozen=True)
class Resumed:
    at_s: float


@dataclass(frozen=True)
class Ended:
    at_s: float
    audio: np.ndarray


@dataclass(frozen=True)
class PauseScored:
    """Smart Turn's probability that the speaker is done, for the pause ``pause_id``."""

    utterance_id: int
    pause_id: int
    at_s: float
    probability: float


@dataclass(frozen=True)
class PauseTranscribed:
    """The words up to a pause that Smart Turn did not call the end (the early transcription)."""

    utterance_id: int
    pause_id: int
    text: str


@dataclass(frozen=True)
class TurnSkipped:
    """The runner found nothing to answer in the turn (no audio, or a recording playing: kept as heard)."""

    turn_id: int


@dataclass(frozen=True)
class TurnTranscribed:
    turn_id: int
    text: str
    level_db: float
    voiced_s: float
    audio_s: float
    embedding: np.ndarray | None = None  # the speaker's voice print; None when too short
    overrule: str | None = None  # the decision rule that calls the assistant: never dropped for its level (#11)
    split: str | None = None  # why the turn was split from the earlier speech it was carried onto
    earlier_text: str | None = None  # that earlier speech's words (its own transcript, context for this turn)
    split_from: UserTurn | None = None  # the utterance the split-off turn starts with (None: this one)


@dataclass(frozen=True)
class GraceElapsed:
    reply_id: str


@dataclass(frozen=True)
class Decided:
    """The proactivity policy's verdict on a turn (None: no policy, always answer)."""

    reply_id: str
    decision: Decision | None


@dataclass(frozen=True)
class ReplyAudible:
    """The reply's first audio chunk (or text) went out."""

    reply_id: str


@dataclass(frozen=True)
class ReplyFinished:
    """The reply completed (answered or declined); ``heard_until_s``: where its audio ends at the listener."""

    reply_id: str
    heard_until_s: float | None = None


@dataclass(frozen=True)
class OverlapTranscribed:
    overlap_id: int
    text: str


@dataclass(frozen=True)
class CallChecked:
    """The words of quiet speech over an answer, and the rule (``name``, ``wake_phrase``) by which
    they call the assistant, or None."""

    check_id: int
    text: str
    calls: str | None


@dataclass(frozen=True)
class OverlapVoice:
    """The overlapping speech's voice print, and how close it is to the assistant's own voice."""

    overlap_id: int
    level_db: float
    embedding: np.ndarray | None
    own_similarity: float | None


@dataclass(frozen=True)
class ManualStart:
    """``activityStart`` (automatic activity detection disabled)."""


@dataclass(frozen=True)
class ManualEnd:
    """``activityEnd``, with the audio sent since ``activityStart``."""

    audio: np.ndarray


@dataclass(frozen=True)
class TextTurn:
    """``realtimeInput.text``: a complete turn in words."""

    text: str


@dataclass(frozen=True)
class ContentTurn:
    """``clientContent`` with ``turnComplete``: answer the conversation as it now stands."""

    text: str | None


Event = (
    Heard | Started | Quiet | Paused | Resumed | Ended | PauseScored | PauseTranscribed | TurnSkipped | TurnTranscribed | GraceElapsed
    | Decided | ReplyAudible | ReplyFinished | OverlapTranscribed | CallChecked | OverlapVoice | ManualStart | ManualEnd
    | TextTurn | ContentTurn
)

# ---------------------------------------------------------------------------------- actions out


@dataclass(frozen=True)
class Emit:
    """An observer event (the console's and the benchmark's view of the session)."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PrefillPartial:
    """The utterance is still being spoken: transcribe what is said so far and evaluate the answer's
    prompt with those words ahead of time, so that at the end of the turn only its last words are
    left to the language model (#12). A head start: the runner skips it when the models are busy."""

    utterance_id: int
    at_s: float
    carry_start_s: float | None = None  # the utterance continues a turn from here: transcribe from there


@dataclass(frozen=True)
class TranscribeEarly:
    """Start transcribing the utterance so far; the pause that follows reuses it if no speech came
    in between (same ``at_s``), so its words are ready 64 ms sooner (#12)."""

    utterance_id: int
    at_s: float
    audio: np.ndarray
    carry_start_s: float | None = None  # the utterance continues a turn from here: transcribe from there


@dataclass(frozen=True)
class ScorePause:
    """Ask Smart Turn about the pause; ``speculative``: transcribe the paused audio now too (from
    ``carry_start_s`` when the utterance continues an earlier turn, as the turn will be)."""

    utterance_id: int
    pause_id: int
    at_s: float
    audio: np.ndarray
    speculative: bool
    carry_start_s: float | None = None


@dataclass(frozen=True)
class EndUtterance:
    """Flush the detector: the utterance ``utterance_id`` ends now, if it is still the open one.

    ``pause_id``: only if the speaker is still in that pause.
    """

    utterance_id: int
    pause_id: int | None = None


@dataclass(frozen=True)
class EndTurn:
    """A spoken turn ended: join carried audio, let co-listening claim it, else transcribe it."""

    reply_id: str
    turn: UserTurn


@dataclass(frozen=True)
class SendTranscription:
    text: str
    turn_id: int = 0
    speaker: str | None = None  # the turn's voice: an enrolled name or spk_N (sent with diarization)
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class WaitForInput:
    """The turn only started a request ("Can you tell me..."): complete it with NEED_MORE_INPUT."""

    reply_id: str


@dataclass(frozen=True)
class Remember:
    """Heard speech that joins memory as context without a reply of its own (a turn split off, #11)."""

    text: str


@dataclass(frozen=True)
class WaitGrace:
    reply_id: str
    seconds: float


@dataclass(frozen=True)
class Respond:
    """Put the turn in memory and ask the proactivity policy (answers with Decided)."""

    reply_id: str
    text: str | None
    already_in_memory: bool = False
    replaces: str | None = None  # the remembered words of the earlier speech this turn continues


@dataclass(frozen=True)
class Generate:
    reply_id: str
    decision: Decision | None


@dataclass(frozen=True)
class Decline:
    reply_id: str
    decision: Decision


@dataclass(frozen=True)
class Hold:
    reply_id: str


@dataclass(frozen=True)
class Release:
    reply_id: str


@dataclass(frozen=True)
class Drop:
    """Cancel a reply that has not said a word yet; nothing is sent (the turn goes on)."""

    reply_id: str


@dataclass(frozen=True)
class Interrupt:
    """Stop a reply now: ``interrupted``, then its ``turnComplete``; memory keeps what was heard."""

    reply_id: str
    reason: str


@dataclass(frozen=True)
class TranscribeOverlap:
    """Transcribe the overlapping speech (``audio``, or the open utterance when None)."""

    overlap_id: int
    audio: np.ndarray | None


@dataclass(frozen=True)
class CheckOverlapVoice:
    overlap_id: int
    audio: np.ndarray | None


@dataclass(frozen=True)
class CheckCall:
    """Transcribe quiet speech that overlapped an answer: does it call the assistant by name or wake
    phrase? Level alone never drops such a call (#11); anything else it says stays background."""

    check_id: int
    audio: np.ndarray


Action = (
    Emit | PrefillPartial | TranscribeEarly | ScorePause | EndUtterance | EndTurn | SendTranscription | Remember | WaitGrace | Respond | Generate
    | Decline | Hold | Release | Drop | Interrupt | TranscribeOverlap | CheckOverlapVoice | CheckCall | WaitForInput
)
