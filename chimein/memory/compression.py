"""Context window compression: the Live API's ``contextWindowCompression`` sliding window.

When the conversation's context grows past ``triggerTokens``, the oldest material is removed
until it is at or below ``slidingWindow.targetTokens``: dialogue turns are dropped (their gist
goes into one bounded "earlier in this conversation" note) and heard recordings are reduced to
compact notes. A compacted recording's time-stamped sentences stay in the heard store (text
only, about 1 kB a minute), so a question about it is still answered from retrieved quotes;
what leaves the context is the recording itself.

Context tokens are counted the way a Gemini model would hold them: dialogue as text tokens of
its transcript, a heard recording that is not compacted as audio (32 tokens a second), a
compacted one as the text tokens of its note. Defaults follow the Live API reference:
``triggerTokens`` 80 % of the model's context window, ``targetTokens`` half of the trigger.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chimein.memory.conversation import Conversation

__all__ = ["CompressionConfig", "CompressionResult", "compress", "context_tokens"]

CONTEXT_WINDOW_TOKENS = 131_072
"""The context window chimein reports for its Live models (Gemini 2.5 Flash native audio: 128k)."""
AUDIO_TOKENS_PER_SECOND = 32
MESSAGE_OVERHEAD_TOKENS = 4
"""Role markers around each chat message."""
SUMMARY_MAX_WORDS = 80
"""The note that replaces dropped turns keeps at most this many words (the newest turns' gists)."""
SUMMARY_WORDS_PER_TURN = 14

CountTokens = Callable[[str], int]


def _get(obj: Any, name: str) -> Any:
    """obj[name] in snake_case or camelCase."""
    if not isinstance(obj, Mapping):
        return None
    if name in obj:
        return obj[name]
    head, *rest = name.split("_")
    return obj.get(head + "".join(p.title() for p in rest))


def _tokens(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():  # int64 fields may arrive as strings
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value <= 0:
        raise ValueError(f"contextWindowCompression.{what} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class CompressionConfig:
    """Resolved ``contextWindowCompression``: compress above trigger, down to target."""

    trigger_tokens: int
    target_tokens: int

    @classmethod
    def from_setup(cls, raw: Mapping[str, Any] | None) -> CompressionConfig | None:
        """None when the setup asked for no compression. Raises ValueError on bad values.

        Accepts ``triggerTokens``/``trigger_tokens`` and ``slidingWindow.targetTokens`` (or a
        top-level ``targetTokens``), in either casing; ints may be JSON strings (int64).
        """
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise ValueError("contextWindowCompression must be an object")
        trigger = _tokens(_get(raw, "trigger_tokens"), "triggerTokens")
        window = _get(raw, "sliding_window")
        if window is not None and not isinstance(window, Mapping):
            raise ValueError("contextWindowCompression.slidingWindow must be an object")
        target = _tokens(_get(window, "target_tokens") if window is not None else None, "slidingWindow.targetTokens")
        if target is None:
            target = _tokens(_get(raw, "target_tokens"), "targetTokens")
        if trigger is None:
            trigger = int(CONTEXT_WINDOW_TOKENS * 0.8)
        if target is None:
            target = trigger // 2
        if target >= trigger:
            raise ValueError(
                f"contextWindowCompression: targetTokens ({target}) must be below triggerTokens ({trigger})"
            )
        return cls(trigger_tokens=trigger, target_tokens=target)


@dataclass(frozen=True)
class CompressionResult:
    """What one compression did (for the event stream and the log)."""

    before_tokens: int
    after_tokens: int
    dropped_turns: int
    compacted_recordings: int

    def to_json(self) -> dict[str, int]:
        return {
            "before_tokens": self.before_tokens,
            "after_tokens": self.after_tokens,
            "dropped_turns": self.dropped_turns,
            "compacted_recordings": self.compacted_recordings,
        }


def _entry_tokens(conversation: Conversation, entry: Any, count: CountTokens) -> int:
    if entry.kind == "heard":
        rec = conversation.heard.recording(entry.recording_id)
        if rec.compact:
            return count(conversation.heard.note(rec.id)) + MESSAGE_OVERHEAD_TOKENS
        if rec.duration_s:
            return math.ceil(rec.duration_s * AUDIO_TOKENS_PER_SECOND)
        return count(conversation.heard.transcript(rec.id)) + MESSAGE_OVERHEAD_TOKENS
    return count(entry.text) + MESSAGE_OVERHEAD_TOKENS


def context_tokens(conversation: Conversation, count: CountTokens) -> int:
    """The conversation's context size in tokens (see the module docstring for the rule)."""
    return sum(_entry_tokens(conversation, e, count) for e in conversation.entries)


def _gist(text: str) -> str:
    words = text.split()
    return " ".join(words[:SUMMARY_WORDS_PER_TURN]) + (" ..." if len(words) > SUMMARY_WORDS_PER_TURN else "")


def compress(conversation: Conversation, config: CompressionConfig, count: CountTokens) -> CompressionResult | None:
    """Slide the window if the context is past the trigger; None when nothing had to be done.

    Oldest first: a dialogue turn is dropped (its gist joins the summary note), a heard
    recording is compacted to its note. The latest participant turn is never dropped (it is
    the one being answered), so the result can stay above target when little else is left.
    """
    from chimein.memory.conversation import Entry

    before = context_tokens(conversation, count)
    if before <= config.trigger_tokens:
        return None
    entries = conversation.entries
    last_user = max((i for i, e in enumerate(entries) if e.kind == "user"), default=-1)
    summary_lines: list[str] = []
    kept: list[Entry] = []
    total = before
    dropped = compacted = 0
    old_summary = next((e for e in entries if e.kind == "summary"), None)
    for i, entry in enumerate(entries):
        if entry.kind == "summary":
            continue
        if total <= config.target_tokens or i == last_user:
            kept.append(entry)
            continue
        if entry.kind == "heard":
            rec = conversation.heard.recording(entry.recording_id)
            if not rec.compact and rec.complete:
                cost = _entry_tokens(conversation, entry, count)
                rec.compact = True
                total -= cost - _entry_tokens(conversation, entry, count)
                compacted += 1
            kept.append(entry)
            continue
        total -= _entry_tokens(conversation, entry, count)
        who = "you said" if entry.kind == "assistant" else f"{entry.speaker or 'user'} said"
        summary_lines.append(f"{who}: {_gist(entry.text)}")
        dropped += 1
    if dropped or old_summary is not None:
        lines = (old_summary.text.split(" | ") if old_summary else []) + summary_lines
        kept_lines: list[str] = []
        for line in reversed(lines):  # the newest gists that fit, whole
            if sum(len(k.split()) for k in kept_lines) + len(line.split()) > SUMMARY_MAX_WORDS:
                break
            kept_lines.insert(0, line)
        text = " | ".join(kept_lines)
        if old_summary is not None:
            total -= _entry_tokens(conversation, old_summary, count)
        summary = Entry("summary", text, speaker="summary")
        total += _entry_tokens(conversation, summary, count)
        kept.insert(0, summary)
    conversation.entries[:] = kept
    return CompressionResult(before, context_tokens(conversation, count), dropped, compacted)
