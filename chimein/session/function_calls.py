"""Function calling for one session: the declared functions, the open calls, and their results.

The session asks the answer engine with the declared functions as OpenAI ``tools``; when the
engine calls some, the session sends ``toolCall`` and this object keeps each call open until the
client's ``toolResponse`` (matched by id, or by name when the client left the id out) or until
the answer that made it is interrupted (``toolCallCancellation``). Blocking calls hold their answer
until every result is back; the answer then continues from the results. Results of NON_BLOCKING
calls arrive later and are scheduled as the client says (SILENT, WHEN_IDLE, INTERRUPT).
No I/O here: the session sends the frames; this object only keeps the books.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chimein.generation.llm import ChatMessage, ToolCall
from chimein.protocol.messages import CLOSE_INVALID_DATA, ProtocolError
from chimein.protocol.tools import FunctionResult, FunctionSpec

MAX_ROUNDS = 1
"""Rounds of calls one answer may make: after the results the model is asked without tools, so it
speaks instead of calling again (small models repeat the call they just made)."""

EMBEDDED_REFUSAL = (
    "tools need an LLM that calls functions: start chimein serve with --llm-url (an OpenAI-compatible server)"
)


@dataclass
class OpenCall:
    call: ToolCall
    answer_id: str
    blocking: bool
    result: asyncio.Future[FunctionResult] | None = None  # blocking calls only


@dataclass
class FunctionCalls:
    """The session's declared functions and open calls."""

    specs: tuple[FunctionSpec, ...]
    _open: dict[str, OpenCall] = field(default_factory=dict)
    _closed: set[str] = field(default_factory=set)  # answered or cancelled: a late result is dropped
    remembered: list[FunctionResult] = field(default_factory=list)
    """Results of non-blocking calls, kept as context for later answers (newest last)."""

    @classmethod
    def for_session(cls, specs: tuple[FunctionSpec, ...], llm: Any) -> FunctionCalls | None:
        """None without declarations; refuses (1007) declarations the answer engine cannot call."""
        if not specs:
            return None
        if not getattr(llm, "supports_tools", False):
            raise ProtocolError(CLOSE_INVALID_DATA, EMBEDDED_REFUSAL)
        return cls(specs)

    def openai_tools(self) -> list[dict[str, Any]]:
        return [spec.to_openai() for spec in self.specs]

    def is_blocking(self, name: str) -> bool:
        spec = next((s for s in self.specs if s.name == name), None)
        return spec is None or spec.blocking

    # ------------------------------------------------------------------ calls out

    def open(self, answer_id: str, calls: Sequence[ToolCall]) -> list[ToolCall]:
        """Record the calls an answer made; returns those that name a declared function.

        A call to an undeclared function (a backend's invention) is dropped here, never sent.
        """
        loop = asyncio.get_running_loop()
        declared = {s.name for s in self.specs}
        sent = []
        for call in calls:
            if call.name not in declared:
                continue
            blocking = self.is_blocking(call.name)
            self._open[call.id] = OpenCall(call, answer_id, blocking, loop.create_future() if blocking else None)
            sent.append(call)
        return sent

    async def results(self, calls: Sequence[ToolCall]) -> list[FunctionResult]:
        """Wait for the blocking calls' results (cancelled with the answer's task)."""
        futures = [self._open[c.id].result for c in calls if c.id in self._open and self._open[c.id].result]
        return list(await asyncio.gather(*futures))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ results in

    def resolve(self, results: Sequence[FunctionResult]) -> list[tuple[FunctionResult, OpenCall]]:
        """Match results to open calls; returns the non-blocking ones for the session to schedule.

        A result for a call already answered or cancelled is dropped (the client may race the
        cancellation); one for a call never made is refused (1007).
        """
        later = []
        for result in results:
            call_id = result.id or self._only_open_named(result.name)
            if call_id in self._closed:
                continue
            entry = self._open.get(call_id)
            if entry is None:
                raise ProtocolError(
                    CLOSE_INVALID_DATA,
                    f"toolResponse for {result.id or result.name!r}: no function call with that id was made",
                )
            if not result.id:
                result = FunctionResult(call_id, result.name, result.response, result.scheduling, result.will_continue)
            if not (result.will_continue and not entry.blocking):
                del self._open[call_id]
                self._closed.add(call_id)
            if entry.result is not None:
                if not entry.result.done():
                    entry.result.set_result(result)
            else:
                later.append((result, entry))
        return later

    def _only_open_named(self, name: str) -> str:
        ids = [i for i, e in self._open.items() if e.call.name == name]
        return ids[0] if len(ids) == 1 else ""

    def cancel(self, answer_id: str) -> list[str]:
        """The answer was interrupted: close its open calls; returns their ids for toolCallCancellation."""
        ids = [i for i, e in self._open.items() if e.answer_id == answer_id and e.blocking]
        for call_id in ids:
            entry = self._open.pop(call_id)
            self._closed.add(call_id)
            if entry.result is not None and not entry.result.done():
                entry.result.cancel()
        return ids

    def remember(self, result: FunctionResult) -> None:
        self.remembered = [*self.remembered, result][-5:]


def continuation(calls: Sequence[ToolCall], results: Sequence[FunctionResult], spoken: str) -> list[ChatMessage]:
    """The messages that continue an answer after its calls: the calls, each result, and a closing note.

    The calls and ``tool`` messages are the OpenAI format. The closing note restates the results in
    a user turn, because some servers' tool templates drop ``tool`` messages from the prompt
    (llama-cpp-python's chatml-function-calling does) and small models answer the last user turn:
    measured with SmolLM2-135M on three functions, the answer used the result only with this note.
    """
    by_id = {r.id: r for r in results}
    messages = [ChatMessage("assistant", spoken, tool_calls=tuple(calls))]
    messages += [ChatMessage("tool", by_id[c.id].content() if c.id in by_id else "{}", tool_call_id=c.id) for c in calls]
    messages.append(ChatMessage("user", results_note(calls, results)))
    return messages


def _flat(response: dict[str, Any]) -> str:
    return "; ".join(f"{key.replace('_', ' ')}: {json.dumps(value, ensure_ascii=False).strip(chr(34))}"
                     for key, value in response.items()) or "done"


def results_note(calls: Sequence[ToolCall], results: Sequence[FunctionResult]) -> str:
    by_id = {r.id: r for r in results}
    parts = [f"Result of {c.name}: {_flat(by_id[c.id].response) if c.id in by_id else 'nothing'}" for c in calls]
    return ". ".join(parts) + ". Tell me the outcome in one short sentence."


def announcement(result: FunctionResult) -> ChatMessage:
    """The prompt note for a NON_BLOCKING result that arrived after its turn ended."""
    return ChatMessage("user", f"Result of {result.name}: {_flat(result.response)}. Tell me the outcome in one short sentence.")
