"""The session's side of function calling: ``toolCall`` out, ``toolResponse`` in, results scheduled.

:class:`~chimein.session.function_calls.FunctionCalls` keeps the books (open calls, results, late
ones dropped); this collaborator sends the frames, bills the calls and results, and asks for the
answer that speaks a NON_BLOCKING result. The runner hands it what it needs as callables, so it
never reaches into the session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from chimein.generation.llm import ChatMessage, LanguageModel, ToolCall
from chimein.protocol import server_messages as out
from chimein.protocol.messages import ToolResponse
from chimein.protocol.tools import FunctionResult, FunctionSpec
from chimein.session.function_calls import FunctionCalls, announcement, continuation
from chimein.session.speech import SpeechHandle
from chimein.usage.tokens import UsageMeter


class ToolUse:
    """Function calls of one session (only when the setup declared functions)."""

    def __init__(self, functions: FunctionCalls, *, llm: LanguageModel, meter: UsageMeter,
                 send: Callable[[dict[str, Any]], None], emit: Callable[..., None],
                 spawn: Callable[[Awaitable[Any]], Any], ask_for_answer: Callable[[], str | None],
                 replying: Callable[[], bool]) -> None:
        self.functions = functions
        self._llm, self._meter = llm, meter
        self._send, self._emit, self._spawn = send, emit, spawn
        self._ask_for_answer = ask_for_answer  # a reply with no new words, made now; returns its id
        self._replying = replying
        self._announcements: dict[str, FunctionResult] = {}  # reply id -> the NON_BLOCKING result it speaks

    @classmethod
    def for_session(cls, specs: tuple[FunctionSpec, ...], llm: LanguageModel, **hooks: Any) -> ToolUse | None:
        """None without declarations; refuses (1007) declarations the answer engine cannot call."""
        functions = FunctionCalls.for_session(specs, llm)
        return cls(functions, llm=llm, **hooks) if functions is not None else None

    def prompt(self, reply_id: str) -> tuple[tuple[ChatMessage, ...], list[dict[str, Any]]]:
        """Extra messages for this reply (a result it announces, earlier results) and the tools it may call."""
        announcing = self._announcements.pop(reply_id, None)
        extra: tuple[ChatMessage, ...] = (announcement(announcing),) if announcing is not None else ()
        if self.functions.remembered:
            notes = "; ".join(f"{r.name} returned {r.content()}" for r in self.functions.remembered)
            extra += (ChatMessage("system", f"Earlier function results: {notes}."),)
        return extra, (self.functions.openai_tools() if announcing is None else [])

    async def on_calls(self, handle: SpeechHandle, calls: list[ToolCall]) -> list[ChatMessage] | None:
        """The reply called functions: send toolCall; wait for BLOCKING results and continue from them."""
        sent = self.functions.open(handle.id, calls)
        if not sent:
            return None
        self._send(out.tool_call([(c.id, c.name, c.args) for c in sent]))
        for call in sent:  # the call is model output: billed as response text
            self._meter.add_output_text(self._llm.count_tokens(f"{call.name} {call.args}"))
        self._emit("tool_call", answer_id=handle.id, calls=[{"id": c.id, "name": c.name, "args": c.args} for c in sent])
        blocking = [c for c in sent if self.functions.is_blocking(c.name)]
        if not blocking:
            return None  # NON_BLOCKING: the reply ends; results are scheduled when they come
        results = await self.functions.results(blocking)
        self._emit("tool_results", answer_id=handle.id, ids=[r.id for r in results])
        return continuation(blocking, results, " ".join(handle.spoken_text))

    def cancel(self, reply_id: str) -> None:
        """The reply was cut or dropped: its open calls are cancelled (toolCallCancellation)."""
        cancelled = self.functions.cancel(reply_id)
        if cancelled:
            self._send(out.tool_call_cancellation(cancelled))

    def on_response(self, event: ToolResponse) -> None:
        """Results from the client: blocking ones resume their reply; NON_BLOCKING ones are scheduled."""
        for result in event.function_responses:  # the results join the prompt: billed as prompt text
            self._meter.add_input_text(self._llm.count_tokens(result.content()))
        for result, _call in self.functions.resolve(event.function_responses):
            scheduling = result.scheduling or "WHEN_IDLE"  # the documented default
            self.functions.remember(result)
            self._emit("tool_result_scheduled", id=result.id, name=result.name, scheduling=scheduling)
            if scheduling != "SILENT":
                self._spawn(self._announce(result, interrupt=scheduling == "INTERRUPT"))

    async def _announce(self, result: FunctionResult, *, interrupt: bool) -> None:
        """Answer from a NON_BLOCKING result: now (INTERRUPT), or once no reply is under way (WHEN_IDLE)."""
        while not interrupt and self._replying():
            await asyncio.sleep(0.05)
        reply_id = self._ask_for_answer()
        if reply_id is not None:
            self._announcements[reply_id] = result
