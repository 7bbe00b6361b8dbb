"""What one run of one scenario produced, in the same form for the live and the fast runner.

A runner records every server message with the time it arrived on the stream's clock (seconds
since the first input sample; the live runner reads a monotonic clock, the fast runner the
virtual one), plus chimein's per-session events where it can see them. Scoring only ever
reads a :class:`RunTrace`, so both runners are scored by exactly the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chimein.bench.builder import Label

OUTPUT_RATE = 24000
INPUT_RATE = 16000
REJECTED = "RESPONSE_REJECTED"


@dataclass
class TraceMessage:
    """One server message, reduced to what scoring needs.

    kind: audio (data: samples, 24 kHz) | input_text | output_text | interrupted |
    generation_complete | turn_complete (data: reason, usage {prompt, response, total}) | setup_complete
    """

    t: float
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunTrace:
    scenario_id: str
    config: str  # "chimein" or a baseline name
    runner: str  # "fast" | "live"
    messages: list[TraceMessage] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # chimein events (t on the same clock)
    placed: list[Label] = field(default_factory=list)  # reactive labels at their run-time position
    sent_samples: int = 0  # input audio sent, 16 kHz
    session_id: str | None = None
    ledger: dict[str, int] | None = None  # session totals from the usage ledger, where readable
    wall_s: float = 0.0
    error: str | None = None

    def add(self, t: float, kind: str, **data: Any) -> None:
        self.messages.append(TraceMessage(round(t, 4), kind, data))


@dataclass
class Response:
    """One assistant answer as the client saw it."""

    start_s: float  # first audio byte
    last_audio_s: float
    audio_samples: int = 0
    text: str = ""
    input_text: str = ""  # the last input transcription before it began
    interrupted_s: float | None = None
    end_s: float | None = None  # its turnComplete
    usage: dict[str, int] | None = None

    @property
    def audio_s(self) -> float:
        return self.audio_samples / OUTPUT_RATE

    @property
    def playing_until_s(self) -> float:
        """When a client playing it as it arrives would finish (or was told to stop)."""
        natural = max(self.last_audio_s, self.start_s + self.audio_s)
        return min(natural, self.interrupted_s) if self.interrupted_s is not None else natural


@dataclass
class Decline:
    """A turnComplete with no answer audio: RESPONSE_REJECTED, or an answer that failed to speak."""

    t: float
    usage: dict[str, int] | None
    reason: str | None = None


def usage_from_wire(usage: dict[str, Any] | None) -> dict[str, int] | None:
    """Token counts from a usageMetadata in either spelling (camelCase wire, snake_case SDK dump)."""
    if not usage:
        return None

    def pick(*names: str) -> int:
        for name in names:
            value = usage.get(name)
            if value is not None:
                return int(value)
        return 0

    return {
        "prompt": pick("promptTokenCount", "prompt_token_count"),
        "response": pick("responseTokenCount", "candidatesTokenCount", "response_token_count"),
        "total": pick("totalTokenCount", "total_token_count"),
    }


def assistant_turns(messages: list[TraceMessage]) -> tuple[list[Response], list[Decline]]:
    """Group the message stream into answers (first audio -> turnComplete) and declined turns."""
    responses: list[Response] = []
    declines: list[Decline] = []
    current: Response | None = None
    last_input = ""
    text_since_turn = ""
    for m in messages:
        if m.kind == "input_text":
            last_input = m.data.get("text", "").strip()
            continue
        if m.kind == "output_text":
            if current is not None:
                current.text += m.data.get("text", "")
            else:
                text_since_turn += m.data.get("text", "")
            continue
        if m.kind == "audio":
            if current is None:
                current = Response(start_s=m.t, last_audio_s=m.t, input_text=last_input, text=text_since_turn)
                text_since_turn = ""
            current.audio_samples += int(m.data.get("samples", 0))
            current.last_audio_s = m.t
            continue
        if m.kind == "interrupted":
            if current is not None and current.interrupted_s is None:
                current.interrupted_s = m.t
            continue
        if m.kind == "turn_complete":
            usage = m.data.get("usage")
            if current is not None:
                current.end_s = m.t
                current.usage = usage
                responses.append(current)
                current = None
            else:
                declines.append(Decline(m.t, usage, m.data.get("reason")))
            text_since_turn = ""
    if current is not None:
        responses.append(current)
    return responses, declines
