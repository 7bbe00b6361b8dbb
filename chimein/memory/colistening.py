"""Per-session settings and state for co-listening and long sessions (the session owns it).

Kept out of the session's turn logic: :class:`~chimein.session.colistening.CoListener`, the
session's co-listening collaborator, holds one :class:`CoListening` and acts on it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from chimein.memory.compression import CompressionConfig
from chimein.memory.conversation import AnswerMode, Entry
from chimein.memory.media import MicRecordingDetector

__all__ = ["COLISTEN_WAIT_S", "CoListening", "SMALL_MODELS", "answer_mode_for", "language_of"]

COLISTEN_WAIT_S = 30.0
"""A question waits at most this long for recordings still being transcribed, then is answered
from what has been heard so far."""
SMALL_MODELS = frozenset({"smollm2-135m-instruct"})
"""Backends whose answers about heard material are quotes, not generated text: measured with
``python -m chimein.memory.evaluate --mode llm``, SmolLM2-135M invents facts even with the
evidence in its prompt."""


def answer_mode_for(llm: Any) -> AnswerMode:
    """``quote`` for the embedded tiny model, ``llm`` for anything stronger."""
    return "quote" if getattr(llm, "name", "") in SMALL_MODELS else "llm"


def language_of(language_code: str | None) -> str | None:
    """Whisper's language from a BCP-47 speechConfig.languageCode ("en-US" -> "en"); None: detect."""
    if not language_code:
        return None
    return language_code.split("-")[0].split("_")[0].lower() or None


@dataclass
class CoListening:
    """Compression settings, the answer mode, the microphone-recording detector, running jobs."""

    compression: CompressionConfig | None
    mode: AnswerMode
    language: str | None
    conversation_id: str
    mic: MicRecordingDetector = field(default_factory=MicRecordingDetector)
    jobs: set[asyncio.Task[Any]] = field(default_factory=set)
    """Transcriptions of heard recordings still running."""
    mic_entry: Entry | None = None
    """The heard recording that microphone turns are currently added to."""
    mic_start_s: float = 0.0
    """Where that recording began on the session's input clock."""
    chain_entry_index: int = 0
    """Memory entries before the current run of close turns began (turns after it that were
    answered as a participant's are marked not addressed once the run proves to be a recording)."""
