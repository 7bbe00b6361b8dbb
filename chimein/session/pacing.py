"""Output pacing and the record of what the listener has actually heard.

The server sends answer audio no faster than real time plus a small lead, so that an
interruption can stop it promptly and so that "what was played" is known from the server's
own clock: played = min(audio sent, time since the first chunk). Truncation of the assistant's
turn reads this one number (style.md: one truncation path, never past what was generated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

OUTPUT_RATE = 24000
CHUNK_SAMPLES = 2400  # 100 ms at 24 kHz: the largest chunk the protocol notes allow
DEFAULT_LEAD_S = 0.25


@dataclass
class PlaybackTracker:
    """Audio sent for one assistant utterance, and the words it carries, on the session clock."""

    clock: Callable[[], float]
    lead_s: float = DEFAULT_LEAD_S
    started_at: float | None = None
    sent_samples: int = 0
    words: list[tuple[str, float]] = field(default_factory=list)  # (word, end time within the utterance)

    @property
    def sent_s(self) -> float:
        return self.sent_samples / OUTPUT_RATE

    def wait_before_next(self) -> float:
        """Seconds to wait before sending more, to stay within ``lead_s`` of real time."""
        if self.started_at is None:
            return 0.0
        elapsed = self.clock() - self.started_at
        return max(0.0, self.sent_s - self.lead_s - elapsed)

    def on_sent(self, samples: int) -> None:
        if self.started_at is None:
            self.started_at = self.clock()
        self.sent_samples += samples

    def rebase(self) -> None:
        """After a hold: keep the played position, so pacing resumes from where the listener is."""
        if self.started_at is not None:
            self.started_at = self.clock() - self.played_s()

    def play_delay_s(self) -> float:
        """How long from now until the next chunk sent will start playing at the listener."""
        if self.started_at is None:
            return 0.0
        return max(0.0, self.started_at + self.sent_s - self.clock())

    def add_words(self, offset_s: float, word_ends: list[tuple[str, float]]) -> None:
        """Register a clip's words, whose end times are relative to the clip starting at offset_s."""
        self.words.extend((w, offset_s + end) for w, end in word_ends)

    def played_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return min(self.sent_s, self.clock() - self.started_at)

    def heard_text(self) -> str:
        """The words whose audio the listener had fully heard at the moment of asking."""
        played = self.played_s()
        return " ".join(w for w, end in self.words if end <= played + 1e-6)

    def recent_text(self, seconds: float) -> str:
        """The words played in the last ``seconds`` (and the one playing now): what an echo can contain."""
        played = self.played_s()
        return " ".join(w for w, end in self.words if played - seconds <= end <= played + 0.6)
