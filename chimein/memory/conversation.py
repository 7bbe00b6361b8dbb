"""The conversation as the assistant remembers it.

Three kinds of entry, kept apart because they mean different things to the answer engine:
what participants said (``user``), what the assistant said and was actually heard saying
(``assistant``, cut at the played position when interrupted), and material the assistant only
listened to (``heard``: a co-listened recording or file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from chimein.generation.llm import ChatMessage

EntryKind = Literal["user", "assistant", "heard"]


@dataclass
class Entry:
    kind: EntryKind
    text: str
    speaker: str = ""
    at_s: float = 0.0
    interrupted: bool = False
    source: str = ""  # for heard material: "recording", a file name...


@dataclass
class Conversation:
    """Ordered entries plus the rendering into chat messages for the language model."""

    entries: list[Entry] = field(default_factory=list)

    def add_user(self, text: str, *, speaker: str = "user", at_s: float = 0.0) -> Entry:
        entry = Entry("user", text.strip(), speaker=speaker, at_s=at_s)
        self.entries.append(entry)
        return entry

    def add_assistant(self, text: str, *, interrupted: bool = False, at_s: float = 0.0) -> Entry:
        entry = Entry("assistant", text.strip(), speaker="assistant", at_s=at_s, interrupted=interrupted)
        self.entries.append(entry)
        return entry

    def add_heard(self, text: str, *, source: str, at_s: float = 0.0) -> Entry:
        entry = Entry("heard", text.strip(), speaker=source, at_s=at_s, source=source)
        self.entries.append(entry)
        return entry

    def recent(self, kinds: Sequence[EntryKind] = ("user", "assistant"), limit: int = 6) -> list[Entry]:
        picked = [e for e in self.entries if e.kind in kinds]
        return picked[-limit:]

    def chat_messages(self, system: str, *, max_turns: int = 8) -> list[ChatMessage]:
        """System prompt, heard material as context, then the last turns in chat form.

        Consecutive user entries (several participants talking) are merged into one user message
        with speaker labels, since chat templates expect alternating roles.
        """
        heard = [e for e in self.entries if e.kind == "heard"]
        system_text = system
        if heard:
            notes = "\n".join(f"- ({e.source}) {e.text}" for e in heard[-4:])
            system_text += "\nAudio you listened to earlier (not said to you):\n" + notes
        messages = [ChatMessage("system", system_text)]
        for entry in self.recent(limit=max_turns):
            if entry.kind == "assistant":
                text = entry.text + (" [you were interrupted here]" if entry.interrupted else "")
                messages.append(ChatMessage("assistant", text))
                continue
            label = f"{entry.speaker}: " if entry.speaker not in ("", "user") else ""
            if messages[-1].role == "user":
                messages[-1] = ChatMessage("user", messages[-1].content + "\n" + label + entry.text)
            else:
                messages.append(ChatMessage("user", label + entry.text))
        return messages
