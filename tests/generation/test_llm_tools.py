"""Function calling through a real OpenAI-compatible server (llama_cpp.server, chatml-function-calling)."""

from __future__ import annotations

import pytest

from chimein.generation.llm import ChatMessage, OpenAICompatibleLLM, ToolCall
from chimein.protocol.tools import FunctionResult, parse_tools
from chimein.session.function_calls import continuation
from tests.generation.llama_server import TOOL_CHAT_FORMAT, llama_server

pytestmark = pytest.mark.slow

TOOLS = [s.to_openai() for s in parse_tools([{"functionDeclarations": [{
    "name": "add_to_shopping_list",
    "description": "Add an item to the user's shopping list",
    "parameters": {"type": "OBJECT", "properties": {"item": {"type": "STRING", "description": "the item to add"}},
                   "required": ["item"]},
}]}])]
SYSTEM = ChatMessage("system", "You are a helpful kitchen assistant.")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    with llama_server(tmp_path_factory.mktemp("llama"), *TOOL_CHAT_FORMAT) as running:
        yield running


def test_a_clear_request_becomes_a_call_and_the_answer_uses_the_result(url):
    llm = OpenAICompatibleLLM(url)
    messages = [SYSTEM, ChatMessage("user", "Please add eggs to my shopping list.")]
    items = list(llm.stream_turn(messages, tools=TOOLS, max_tokens=60, temperature=0.0))
    calls = [i for i in items if isinstance(i, ToolCall)]
    assert [(c.name, c.args) for c in calls] == [("add_to_shopping_list", {"item": "eggs"})], items
    assert calls[0].id.startswith("call-")
    # llama-cpp-python cannot stream a tool call: the client asked again without streaming, and remembers.
    assert llm._stream_tools is False
    result = FunctionResult(calls[0].id, calls[0].name, {"result": "added", "items_on_list": 7})
    reply = "".join(i for i in llm.stream_turn([*messages, *continuation(calls, [result], "")], max_tokens=60,
                                               temperature=0.0) if isinstance(i, str))
    assert "7" in reply or "seven" in reply.lower(), reply


def test_without_tools_the_same_server_just_talks(url):
    llm = OpenAICompatibleLLM(url, temperature=0.0)
    text = "".join(llm.stream_reply([ChatMessage("user", "What is the capital of France?")], max_tokens=40))
    assert "Paris" in text
