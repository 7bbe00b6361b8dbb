"""The conversation as the assistant remembers it.

Four kinds of entry, kept apart because they mean different things to the answer engine:
what participants said (``user``), what the assistant said and was actually heard saying
(``assistant``, cut at the played position when interrupted), material the assistant only
listened to (``heard``: a co-listened recording, whose sentences live in :attr:`heard`), and
the ``summary`` note that context compression leaves in place of dropped turns.

Answers about heard material are grounded by retrieval (:mod:`chimein.memory.heard`): an
:class:`AnswerPlan` carries either a fixed reply (a quote from the recording, or "I did not
hear that") or the chat messages for the language model with the evidence in the system prompt.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from chimein.generation.llm import ChatMessage, LanguageModel
from chimein.memory.heard import Grounding, HeardStore
from chimein.memory.listening import HeardSentence

EntryKind = Literal["user", "assistant", "heard", "summary"]
AnswerMode = Literal["quote", "llm"]
"""How questions about heard material are answered: ``quote`` replies with the retrieved
sentence itself (the embedded 135M model invents facts even with the evidence in its prompt;
see ``python -m chimein.memory.evaluate``); ``llm`` lets the language model answer from the
evidence (for stronger backends)."""


@dataclass
class Entry:
    kind: EntryKind
    text: str
    speaker: str = ""
    at_s: float = 0.0
    interrupted: bool = False
    source: str = ""  # for heard material: "recording", "microphone"...
    recording_id: int | None = None
    addressed: bool = True
    """False for a participant turn the assistant declined (people talking among themselves):
    kept for the record, left out of the answer prompt."""


@dataclass(frozen=True)
class AnswerPlan:
    """How the next answer is produced: a fixed grounded reply, or the LLM on ``messages``."""

    messages: list[ChatMessage]
    grounding: Grounding | None = None
    fixed_reply: str | None = None
    conversation: str | None = None
    """The conversation's key, so the language model reuses its prompt cache from the turn before."""

    def stream_reply(
        self, llm: LanguageModel, *, max_tokens: int, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        """Text deltas of the answer (blocking; run it where the LLM would run)."""
        if self.fixed_reply is not None:
            if cancel is None or not cancel.is_set():
                yield self.fixed_reply
            return
        yield from llm.stream_reply(self.messages, max_tokens=max_tokens, cancel=cancel, conversation=self.conversation)

    def to_json(self) -> dict[str, Any]:
        return {
            "fixed_reply": self.fixed_reply is not None,
            "grounding": self.grounding.to_json() if self.grounding is not None else None,
        }


@dataclass
class Conversation:
    """Ordered entries, the heard store, and the rendering into chat messages for the LLM."""

    entries: list[Entry] = field(default_factory=list)
    heard: HeardStore = field(default_factory=HeardStore)
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Names this conversation to the language model (its prompt-cache slot); not shown to anyone."""

    def add_user(self, text: str, *, speaker: str = "user", at_s: float = 0.0) -> Entry:
        entry = Entry("user", text.strip(), speaker=speaker, at_s=at_s)
        self.entries.append(entry)
        return entry

    def forget_last_user(self, text: str) -> None:
        """Take back the last user entry if it says ``text`` (a line that went on is remembered whole)."""
        for i in range(len(self.entries) - 1, -1, -1):
            if self.entries[i].kind == "user":
                if self.entries[i].text == text.strip():
                    del self.entries[i]
                return

    def mark_last_user_unaddressed(self) -> None:
        """The last user turn was people talking among themselves: not context for answers."""
        for entry in reversed(self.entries):
            if entry.kind == "user":
                entry.addressed = False
                return

    def add_assistant(self, text: str, *, interrupted: bool = False, at_s: float = 0.0) -> Entry:
        entry = Entry("assistant", text.strip(), speaker="assistant", at_s=at_s, interrupted=interrupted)
        self.entries.append(entry)
        return entry

    def start_heard(self, *, source: str, at_s: float = 0.0, duration_s: float | None = None) -> Entry:
        """Begin a heard recording; add its sentences with :meth:`add_heard_sentences`."""
        rec = self.heard.start_recording(source, heard_at_s=at_s, duration_s=duration_s)
        entry = Entry("heard", "", speaker=source, at_s=at_s, source=source, recording_id=rec.id)
        self.entries.append(entry)
        return entry

    def add_heard_sentences(self, entry: Entry, sentences: Sequence[HeardSentence], vectors: Any = None) -> None:
        assert entry.recording_id is not None
        self.heard.add_sentences(entry.recording_id, sentences, vectors)
        entry.text = self.heard.transcript(entry.recording_id)

    def finish_heard(self, entry: Entry, *, duration_s: float | None = None) -> None:
        assert entry.recording_id is not None
        self.heard.finish_recording(entry.recording_id, duration_s=duration_s)

    def add_heard(self, text: str, *, source: str, at_s: float = 0.0, duration_s: float | None = None) -> Entry:
        """A whole heard passage at once (no timings inside it): one sentence at 0 s."""
        entry = self.start_heard(source=source, at_s=at_s, duration_s=duration_s)
        self.add_heard_sentences(entry, [HeardSentence(0.0, duration_s or 0.0, text.strip())])
        self.finish_heard(entry, duration_s=duration_s)
        return entry

    def recent(self, kinds: Sequence[EntryKind] = ("user", "assistant"), limit: int = 6) -> list[Entry]:
        picked = [e for e in self.entries if e.kind in kinds]
        return picked[-limit:]

    def pending_question(self) -> str | None:
        """The latest participant turn not answered yet (None when the assistant spoke last)."""
        for entry in reversed(self.entries):
            if entry.kind == "assistant":
                return None
            if entry.kind == "user" and entry.addressed:
                return entry.text
        return None

    # -- rendering -------------------------------------------------------------------------------

    def answer_plan(self, system: str, *, mode: AnswerMode = "llm", max_turns: int = 8) -> AnswerPlan:
        """Ground the pending question in heard material, then choose a fixed reply or messages.

        Blocking (embeds the question): call it from a worker thread in the server.
        """
        question = self.pending_question()
        grounding = None
        if question and self.heard.recordings:
            grounding = self.heard.ground(question)
        elif not question and self.entries and self.entries[-1].kind == "heard":
            # A file sent with turnComplete and no question: say what was heard.
            return AnswerPlan(self.chat_messages(system, max_turns=max_turns), None, self._heard_gist_reply(), self.key)
        if mode == "quote" and grounding is not None:
            reply = grounding.quote_reply()
            if reply is not None:
                return AnswerPlan(self._messages(system, grounding, max_turns, notes=False), grounding, reply, self.key)
        notes = mode == "llm"
        return AnswerPlan(self._messages(system, grounding, max_turns, notes=notes), grounding, None, self.key)

    def next_turn_head(self, system: str, *, max_turns: int = 8, notes: bool = True) -> list[ChatMessage]:
        """The messages the next answer's prompt opens with: the window as it will be once one more
        participant turn arrives, without that turn (issue #12).

        Evaluated while the person speaks, it leaves only their words to the model at the end of
        the turn. The window drops its oldest entry on every turn once full, and moving the cached
        rest down costs ~0.2 s with 8 cache slots; here that happens before the turn ends.
        """
        return self.preview_messages(system, "", max_turns=max_turns, notes=notes)[:-1]

    def preview_messages(self, system: str, text: str, *, max_turns: int = 8, notes: bool = True) -> list[ChatMessage]:
        """The messages the answer would get if ``text`` were the next participant turn, without adding it.

        For a speculative prefill while the end of the turn is still being decided: the prompt the
        model evaluates ahead is then the one it gets, so little is left to do when the turn ends.
        """
        ahead = Conversation([*self.entries, Entry("user", text.strip())], self.heard, self.key)
        return ahead._messages(system, None, max_turns, notes=notes)

    def chat_messages(self, system: str, *, max_turns: int = 8) -> list[ChatMessage]:
        """System prompt (with heard evidence for the pending question), then the last turns.

        Consecutive user entries (several participants talking) are merged into one user message
        with speaker labels, since chat templates expect alternating roles.
        """
        question = self.pending_question()
        grounding = self.heard.ground(question) if question and self.heard.recordings else None
        return self._messages(system, grounding, max_turns, notes=True)

    def _messages(self, system: str, grounding: Grounding | None, max_turns: int, *, notes: bool) -> list[ChatMessage]:
        system_text = system
        summary = next((e for e in self.entries if e.kind == "summary"), None)
        if summary is not None:
            system_text += "\nEarlier in this conversation (summarised): " + summary.text
        if notes and self.heard.recordings:
            system_text += "\nRecordings you listened to: " + " ".join(
                self.heard.note(r.id) + "." for r in self.heard.recordings
            )
        if grounding is not None and grounding.prompt_note():
            system_text += "\n" + grounding.prompt_note()
        messages = [ChatMessage("system", system_text)]
        for entry in self.recent(limit=max_turns):
            if not entry.addressed:
                continue
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

    def _heard_gist_reply(self) -> str:
        entry = self.entries[-1]
        assert entry.recording_id is not None
        rec = self.heard.recording(entry.recording_id)
        segments = self.heard.segments(rec.id)
        if not segments:
            return f"I listened to {rec.label}, but I heard no speech in it."
        first = segments[0].text.strip()
        return f"I listened to {rec.label}. It begins: \"{first}\""

    # -- snapshot (session resumption on another replica) ---------------------------------------

    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable copy of everything remembered (entries and heard material).

        Safe to call from a worker thread while the event loop appends: the entry list is copied first.
        """
        entries = list(self.entries)
        return {"version": 1, "entries": [asdict(e) for e in entries], "heard": self.heard.to_snapshot()}

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Conversation:
        """The conversation :meth:`to_snapshot` described; ValueError if it is not one."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a version-1 conversation snapshot")
        try:
            entries = [Entry(**e) for e in data["entries"]]
            return cls(entries=entries, heard=HeardStore.from_snapshot(data["heard"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed conversation snapshot: {exc}") from None
