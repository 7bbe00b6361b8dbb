"""The session's book of function calls: matching results, cancelling, scheduling, prompts."""

from __future__ import annotations

import asyncio

import pytest

from chimein.generation.llm import ToolCall
from chimein.protocol.messages import ProtocolError
from chimein.protocol.server_messages import speaker_label
from chimein.protocol.tools import FunctionResult, parse_tools
from chimein.session.function_calls import FunctionCalls, continuation

SPECS = parse_tools([{"functionDeclarations": [
    {"name": "add", "parameters": {"type": "OBJECT", "properties": {"item": {"type": "STRING"}}}},
    {"name": "remind", "behavior": "NON_BLOCKING"},
]}])


class Remote:
    supports_tools = True


class Embedded:
    supports_tools = False


def test_declared_functions_need_a_backend_that_calls_them():
    assert FunctionCalls.for_session((), Embedded()) is None
    with pytest.raises(ProtocolError, match="--llm-url") as caught:
        FunctionCalls.for_session(SPECS, Embedded())
    assert caught.value.code == 1007
    assert FunctionCalls.for_session(SPECS, Remote()) is not None


async def test_blocking_results_resume_the_answer_and_unknown_ids_are_refused():
    book = FunctionCalls(SPECS)
    sent = book.open("a1", [ToolCall("c1", "add", {"item": "eggs"}), ToolCall("c9", "invented", {})])
    assert [c.id for c in sent] == ["c1"]  # a call to an undeclared function is never sent
    waiting = asyncio.ensure_future(book.results(sent))
    await asyncio.sleep(0)
    assert not waiting.done()
    assert book.resolve([FunctionResult("", "add", {"ok": True})]) == []  # by name: the only open "add"
    (result,) = await waiting
    assert (result.id, result.response) == ("c1", {"ok": True})
    assert book.resolve([FunctionResult("c1", "add", {})]) == []  # answered already: a late duplicate is dropped
    with pytest.raises(ProtocolError, match="no function call with that id"):
        book.resolve([FunctionResult("c7", "add", {})])


async def test_interrupting_an_answer_cancels_its_blocking_calls_only():
    book = FunctionCalls(SPECS)
    book.open("a1", [ToolCall("c1", "add", {}), ToolCall("c2", "remind", {})])
    book.open("a2", [ToolCall("c3", "add", {})])
    waiting = asyncio.ensure_future(book.results([ToolCall("c1", "add", {})]))
    await asyncio.sleep(0)  # the answer is waiting for its result
    assert book.cancel("a1") == ["c1"]
    with pytest.raises(asyncio.CancelledError):
        await waiting
    later = book.resolve([FunctionResult("c2", "remind", {"done": 1}, scheduling="SILENT")])
    assert [(r.id, r.scheduling) for r, _ in later] == [("c2", "SILENT")]


async def test_a_continuing_non_blocking_call_stays_open():
    book = FunctionCalls(SPECS)
    book.open("a1", [ToolCall("c2", "remind", {})])
    book.resolve([FunctionResult("c2", "remind", {"progress": 50}, will_continue=True)])
    book.resolve([FunctionResult("c2", "remind", {"progress": 100})])
    assert book.resolve([FunctionResult("c2", "remind", {})]) == []  # finished: later results are dropped


def test_continuation_restates_the_result_for_templates_that_drop_tool_messages():
    call = ToolCall("c1", "add_to_shopping_list", {"item": "eggs"})
    messages = continuation([call], [FunctionResult("c1", call.name, {"result": "added", "items_on_list": 7})], "Sure.")
    assert [m.role for m in messages] == ["assistant", "tool", "user"]
    assert messages[0].tool_calls == (call,) and messages[1].tool_call_id == "c1"
    assert messages[1].content == '{"result":"added","items_on_list":7}'
    assert "items on list: 7" in messages[2].content


def test_speaker_labels():
    assert speaker_label("alice", True) == "alice"
    assert speaker_label("speaker 2", False) == "spk_2"
