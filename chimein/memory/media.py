"""Is a finished microphone turn a participant speaking to the assistant, or a recording playing?

People give an assistant a request in a few seconds, then wait for it; a podcast, a voicemail
or a video's sound runs on for tens of seconds without leaving room for an answer. So a turn
that lasts :data:`MIC_RECORDING_MIN_S` or more (the session joins turns that resumed before its
answer began, so a talk with short pauses arrives as one long turn) starts a heard recording,
and later turns that follow it within :data:`MIC_RECORDING_GAP_S` continue it. Pure logic:
times are seconds of the session's input-audio clock, passed in.

Measured on the real recordings (the ActivityDetector at default settings, `../shared/data/real`):
pauses inside one recording (a 60 s talk, five meeting excerpts, two book readings) were
0.8-2.5 s (median 1.2 s, 90th percentile 2.46 s; one 7.1 s meeting pause); single utterances
inside them ran up to 29.7 s. A turn shorter than :data:`MIC_CONTINUATION_MIN_S` never
continues a recording, so a participant's quick question just after the recording stops is
answered rather than swallowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["MIC_RECORDING_GAP_S", "MIC_RECORDING_MIN_S", "MicRecordingDetector", "MicVerdict"]

MIC_RECORDING_MIN_S = 20.0
"""A turn at least this long (joined across pauses no answer filled) is a recording playing."""
MIC_RECORDING_GAP_S = 2.5
"""A turn starting within this of the recording's last turn continues it (90th percentile of pauses)."""
MIC_CONTINUATION_MIN_S = 3.0
"""Shorter turns never continue a recording: they are most likely a participant."""

MicVerdict = Literal["participant", "recording_starts", "recording_continues"]


@dataclass
class MicRecordingDetector:
    """Classifies finished microphone turns; remembers where the current recording's audio ended."""

    min_turn_s: float = MIC_RECORDING_MIN_S
    gap_s: float = MIC_RECORDING_GAP_S
    continuation_min_s: float = MIC_CONTINUATION_MIN_S
    recording_end_s: float | None = None
    """End of the last turn kept as a recording (None: no recording is playing)."""
    chain_start_s: float = 0.0
    """Start of the run of turns, each within ``gap_s`` of the one before, that the last turn
    belongs to: when a recording is recognised, its beginning is where this run began (the
    turns before the 20 s mark were the recording too)."""
    last_end_s: float | None = None

    def classify(self, start_s: float, end_s: float) -> MicVerdict:
        """The verdict for a turn from ``start_s`` to ``end_s`` (the session acts on it)."""
        if self.last_end_s is None or start_s - self.last_end_s > self.gap_s:
            self.chain_start_s = start_s
        self.last_end_s = max(end_s, self.last_end_s or 0.0)
        duration = end_s - start_s
        near = self.recording_end_s is not None and start_s - self.recording_end_s <= self.gap_s
        if near and duration >= self.continuation_min_s:
            self.recording_end_s = end_s
            return "recording_continues"
        if duration >= self.min_turn_s:
            self.recording_end_s = end_s
            return "recording_starts"
        if not near:
            self.recording_end_s = None  # a separate turn: the recording has stopped
        # A short turn right after the recording stays a participant's, but does not end the
        # recording: the session joins it to what follows when the audio goes on, and that
        # joined turn (starting here, within the gap) continues the recording.
        return "participant"
